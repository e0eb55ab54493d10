#!/usr/bin/env python3
"""Checks that the top-level modules of agent-init/src depend on each other
one way: every `crate::` path (in `use` lines, grouped or not, and in code)
is an edge from the module it appears in to the module it names, and each
edge must go to a lower layer (LAYERS, bottom first). Exits 1 naming every
edge that goes up or sideways, and any cycle; prints the layers otherwise.

usage: check-layers.py [SRC_DIR] [--graph]"""
import os
import re
import sys

# Bottom first. A module may use only modules of lower layers.
LAYERS = [
    ["logging", "presets"],
    ["sys"],
    ["launch"],
    ["exit"],
    ["files", "output", "config", "children", "state"],
    ["spawn"],
    ["process"],
    ["steps", "health", "exec", "status"],
    ["supervise", "reload"],
    ["cli"],
    ["init"],
    ["fuzz"],
    ["lib", "main"],
]

def edges(root):
    graph = {}
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(d, f)
            module = os.path.relpath(path, root)[:-3].split("/")[0]
            text = open(path, encoding="utf-8", errors="replace").read()
            # Comments are not dependencies.
            text = re.sub(r"//[^\n]*", "", text)
            names = set(re.findall(r"crate::([a-z_][a-z0-9_]*)", text))
            for group in re.findall(r"crate::\{([^}]*)\}", text, re.S):
                for item in group.split(","):
                    item = item.strip().split("::")[0].split(" ")[0]
                    if re.fullmatch(r"[a-z_][a-z0-9_]*", item):
                        names.add(item)
            names.discard(module)
            graph.setdefault(module, set()).update(names)
    return graph

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "agent-init", "src")
    graph = edges(root)
    layer = {m: i for i, ms in enumerate(LAYERS) for m in ms}
    problems = []
    for m in sorted(graph):
        if m not in layer:
            problems.append(f"module {m} is in no layer (add it to LAYERS in {__file__})")
            continue
        for n in sorted(graph[m]):
            if n not in layer:
                problems.append(f"{m} uses {n}, which is in no layer")
            elif layer[n] >= layer[m]:
                problems.append(
                    f"{m} (layer {layer[m]}) uses {n} (layer {layer[n]}): dependencies must go down"
                )
    # The layer list in lib.rs's documentation is this table.
    line = " < ".join("{" + ", ".join(ms) + "}" for ms in LAYERS)
    lib = os.path.join(root, "lib.rs")
    if os.path.exists(lib) and os.path.basename(os.path.normpath(root)) == "src":
        doc = open(lib, encoding="utf-8").read()
        m = re.search(r"//! (\{[^\n]*\n(?://![^\n]*\n)*?)//!\s*\n", doc)
        shown = " ".join(l.lstrip("/!").strip() for l in m.group(1).splitlines()) if m else None
        if shown is None or " ".join(shown.split()) != line:
            problems.append(f"{lib}: its layer list (the lines from the first `{{`) is not {line}")
    if "--graph" in sys.argv:
        for m in sorted(graph):
            print(f"{m} -> {', '.join(sorted(graph[m]))}")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print("layers ok: " + line)

main()
