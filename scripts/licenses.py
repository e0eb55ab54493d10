#!/usr/bin/env python3
"""License inventory of agent-init's dependencies, and the check that only
permissive licenses appear.

    scripts/licenses.py OUT.md SBOM.cdx.json...   write the inventory, check
    scripts/licenses.py --self-test               the checker's own cases

The inventory comes from the SBOMs (cargo-cyclonedx reads each crate's
`license` field). A crate passes when its SPDX expression can be satisfied
with licenses from PERMISSIVE: `A OR B` needs one side, `A AND B` both,
`A WITH exception` needs A. A crate without a license, or with anything
else (GPL, LGPL, MPL, AGPL, SSPL, a non-SPDX name), fails the run.
"""
import json
import re
import sys

PERMISSIVE = {
    "0BSD", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "BSL-1.0", "CC0-1.0",
    "CDLA-Permissive-2.0", "ISC", "MIT", "MIT-0", "Unicode-3.0", "Unicode-DFS-2016",
    "Unlicense", "Zlib",
}


def satisfiable(expression):
    """True when the SPDX expression can be met with permissive licenses."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def primary():
        tok = take() if peek() is not None else None
        if tok == "(":
            value = either()
            if take() != ")":
                raise ValueError("unbalanced parentheses")
        elif tok is None or tok in (")", "AND", "OR", "WITH"):
            raise ValueError(f"unexpected {tok!r}")
        else:
            value = tok.rstrip("+") in PERMISSIVE
        if peek() == "WITH":
            take()
            take()  # an exception only ever adds permissions
        return value

    def both():
        value = primary()
        while peek() == "AND":
            take()
            value = primary() and value
        return value

    def either():
        value = both()
        while peek() == "OR":
            take()
            value = both() or value
        return value

    try:
        value = either()
        if peek() is not None:
            raise ValueError(f"unexpected {peek()!r}")
        return value
    except (ValueError, IndexError):
        return False


def license_of(component):
    names = []
    for entry in component.get("licenses", []):
        if "expression" in entry:
            names.append(entry["expression"])
        elif "license" in entry:
            lic = entry["license"]
            names.append(lic.get("id") or lic.get("name") or "")
    names = [n for n in names if n]
    if len(names) == 1:
        return names[0]
    return " AND ".join(f"({n})" if " " in n else n for n in names)


def self_test():
    cases = {
        "MIT": True, "MIT OR Apache-2.0": True, "Apache-2.0 AND ISC": True,
        "(MIT OR Apache-2.0) AND Unicode-3.0": True, "MIT OR GPL-3.0-only": True,
        "Apache-2.0 WITH LLVM-exception": True,
        "GPL-3.0-only": False, "MIT AND GPL-2.0-only": False, "LGPL-2.1-or-later": False,
        "MPL-2.0": False, "AGPL-3.0-only OR SSPL-1.0": False, "": False,
        "MIT AND": False, "(MIT": False, "Proprietary": False,
    }
    wrong = [e for e, ok in cases.items() if satisfiable(e) != ok]
    if wrong:
        sys.exit(f"licenses: the checker gets these wrong: {wrong}")
    print(f"licenses: the checker passes its {len(cases)} cases "
          f"({sum(not v for v in cases.values())} of them must be refused)")


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) < 3:
        sys.exit("usage: licenses.py OUT.md SBOM.cdx.json... | --self-test")
    out, sboms = sys.argv[1], sys.argv[2:]
    crates = {}
    for path in sboms:
        with open(path) as f:
            bom = json.load(f)
        for c in bom["components"]:
            crates[(c["name"], c["version"])] = license_of(c)
    refused = sorted(f"{n} {v}: {lic or 'no license'}"
                     for (n, v), lic in crates.items() if not satisfiable(lic))
    by_license = {}
    for (name, version), lic in sorted(crates.items()):
        by_license.setdefault(lic, []).append(f"{name} {version}")
    with open(out, "w") as f:
        f.write("# Third-party licenses of agent-init\n\n")
        f.write(f"{len(crates)} crates, from the SBOMs of every architecture. "
                "Only permissive licenses are accepted: "
                + ", ".join(sorted(PERMISSIVE)) + ".\n")
        for lic, names in sorted(by_license.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            f.write(f"\n## {lic or 'no license'} ({len(names)})\n\n")
            f.write("".join(f"- {n}\n" for n in names))
    if refused:
        sys.exit("licenses: not permissive:\n  " + "\n  ".join(refused))
    print(f"licenses: {out}: {len(crates)} crates, {len(by_license)} license "
          "expressions, all permissive")


if __name__ == "__main__":
    main()
