#!/usr/bin/env python3
"""Writes the CycloneDX SBOM of one agent-init binary.

    scripts/sbom.py ARCH BINARY OUT.cdx.json

The SBOM comes from cargo-cyclonedx for the binary's target (runtime
dependencies only). It is then made reproducible: the timestamp is
SOURCE_DATE_EPOCH (the last commit's time), the serial number is derived
from the content, and the build machine's source path is left out. The
binary's SHA-256 is recorded, and the SBOM is checked against the
dependency list that `cargo auditable` embedded in the binary itself: a
crate compiled in but missing from the SBOM fails the run.
"""
import datetime
import glob
import hashlib
import json
import os
import struct
import subprocess
import sys
import uuid
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    sys.exit(f"sbom: {msg}")


def elf_section(path, data, wanted):
    """The bytes of section `wanted` of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        fail(f"{path}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i):
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)

    names = header(shstrndx)
    for i in range(shnum):
        h = header(i)
        start = names[4] + h[0]
        name = data[start:data.index(b"\0", start)].decode()
        if name == wanted:
            return data[h[4]:h[4] + h[5]]
    fail(f"{path}: no {wanted} section (build with `cargo auditable build`)")


def embedded_crates(binary, data):
    """(name, version) of every runtime crate in the binary's audit data."""
    audit = json.loads(zlib.decompress(elf_section(binary, data, ".dep-v0")))
    return {(p["name"], p["version"]) for p in audit["packages"]
            if p.get("kind", "runtime") == "runtime" and not p.get("root")}


def main():
    if len(sys.argv) != 4:
        fail("usage: sbom.py ARCH BINARY OUT.cdx.json")
    arch, binary, out = sys.argv[1:]
    target = f"{arch}-unknown-linux-musl"
    stem = f".sbom-{arch}"
    try:
        subprocess.run(
            ["cargo", "cyclonedx", "--quiet", "--format", "json", "--spec-version", "1.5",
             "--target", target, "--no-build-deps", "--override-filename", stem],
            cwd=ROOT, check=True)
        with open(os.path.join(ROOT, "agent-init", stem + ".json")) as f:
            text = f.read()
    finally:
        for leftover in glob.glob(os.path.join(ROOT, "*", stem + ".json")):
            os.remove(leftover)
    text = text.replace("file://" + ROOT + "/", "file://./")
    if ROOT in text:
        fail(f"the build directory {ROOT} is still in the SBOM")
    bom = json.loads(text)

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    bom["metadata"]["timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(binary, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    bom["metadata"]["component"]["hashes"] = [{"alg": "SHA-256", "content": digest}]
    bom["metadata"]["component"].setdefault("properties", []).append(
        {"name": "agent-init:target", "value": target})
    bom["serialNumber"] = ""
    body = json.dumps(bom, sort_keys=True).encode()
    bom["serialNumber"] = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, hashlib.sha256(body).hexdigest()))

    listed = {(c["name"], c["version"]) for c in bom["components"]}
    embedded = embedded_crates(binary, data)
    missing = embedded - listed
    if missing:
        fail(f"{binary} contains crates its SBOM does not list: {sorted(missing)}")
    with open(out, "w") as f:
        json.dump(bom, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"sbom: {out}: {len(bom['components'])} components, among them all "
          f"{len(embedded)} crates embedded in the binary")


if __name__ == "__main__":
    main()
