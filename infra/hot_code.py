"""Writes a function's linker script of hot code (see infra/hot-code/build.rs) from the linker map
of a traced build and callgrind traces of that build's runs.

usage: hot_code.py FUNCTION MAP_FILE TRACE_DIR OUTPUT_SCRIPT

Every function section of the map that holds an instruction executed in any trace is hot. The
traced binary is built with the release profile, stripped as deployed, so callgrind names code
by address; the map gives each address its section. Under valgrind the binary is loaded at a base of its
own: the base is the offset that makes the most traced function entries land on section starts.

A Rust symbol holds hashes of its crates' builds (legacy mangling ends in `17h<16 hex digits>E`;
the standard library's v0 names carry `Cs<base 62>_` for each crate), which differ between
targets (x86_64 and arm64) and between builds whose dependencies have other features (one
function built alone, or the whole workspace). The script names a function by its path with the
hash as a wildcard, so it holds for every such build, and for the code that changes no path:
what it costs is that every copy of a generic function shares its path, and the copies a run
never executes move forward too. The same goes for the other parts of a name that differ between
the traced build and the deployed one (see `generalised`).
"""

import bisect
import collections
import os
import re
import sys

# `   VMA   LMA   Size Align Out In Symbol`: an input section line, such as
#     2c7c80   2c7c80   1a4   16   /path/x.o:(.text._ZN4core3fmt5write17h...E)
SECTION_LINE = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+.*:\((\.text\.[^)]+)\)$")
ADDRESS_LINE = re.compile(r"^(0x[0-9a-f]+)\s")
FUNCTION_ENTRY = re.compile(r"^c?fn=0x([0-9a-f]+)$")
RUST_HASH = re.compile(r"17h[0-9a-f]{16}E$")
# A v0-mangled symbol (the standard library's) names each crate with a hash: `Cs<base 62>_`.
CRATE_HASH = re.compile(r"Cs[0-9A-Za-z]+_")
# LLVM numbers the local symbols that share a name (`write_str.47`), differently in every build.
LOCAL_NUMBER = re.compile(r"\.[0-9]+$")
# The traced build compiles C (AWS-LC) with GCC, the deployed one with zig's clang: GCC puts some
# functions in `.text.startup.` or `.text.unlikely.` sections and names its partial copies
# `.part.0`, `.constprop.0`, `.isra.0` or `.cold`; clang names the same code `.text.<function>`.
PLACEMENT = re.compile(r"^\.text\.(startup|unlikely|exit|hot)\.")
GCC_COPY = re.compile(r"(\.(part|constprop|isra)\.[0-9]+|\.cold)+$")


def map_sections(path):
    """(start, size, name) of every named function section, in address order."""
    sections = []
    with open(path) as lines:
        for line in lines:
            match = SECTION_LINE.match(line.rstrip("\n"))
            if match and int(match.group(2), 16) > 0:
                sections.append((int(match.group(1), 16), int(match.group(2), 16), match.group(3)))
    sections.sort()
    return sections


def traced_addresses(trace_dir, binary_name):
    """Executed instruction addresses in the binary, and the entries of its functions."""
    addresses, entries = set(), set()
    for name in os.listdir(trace_dir):
        if not name.endswith(".out"):
            continue
        in_binary = False
        with open(os.path.join(trace_dir, name), errors="replace") as lines:
            for line in lines:
                if line.startswith("ob="):
                    in_binary = line.rstrip("\n").endswith("/" + binary_name)
                elif in_binary:
                    match = ADDRESS_LINE.match(line)
                    if match:
                        addresses.add(int(match.group(1), 16))
                    elif line.startswith("fn="):
                        entry = FUNCTION_ENTRY.match(line.rstrip("\n"))
                        if entry:
                            entries.add(int(entry.group(1), 16))
    return addresses, entries


def load_base(sections, entries):
    starts = {start for start, _, _ in sections}
    votes = collections.Counter()
    for entry in sorted(entries)[:: max(1, len(entries) // 300)]:
        for start in starts:
            if entry >= start and (entry - start) % 4096 == 0:
                votes[entry - start] += 1
    if not votes:
        sys.exit("hot_code.py: no traced function starts at a section of the map")
    base, count = votes.most_common(1)[0]
    return base, count


def main():
    function, map_file, trace_dir, output = sys.argv[1:5]
    sections = map_sections(map_file)
    addresses, entries = traced_addresses(trace_dir, "bootstrap")
    if not addresses:
        sys.exit(f"hot_code.py: no trace of {function}'s binary in {trace_dir}")
    base, votes = load_base(sections, entries)
    starts = [start for start, _, _ in sections]
    hot = set()
    for address in addresses:
        index = bisect.bisect_right(starts, address - base) - 1
        if index >= 0:
            start, size, _ = sections[index]
            if address - base < start + size:
                hot.add(index)
    patterns = []
    for index in sorted(hot):
        pattern = pattern_of(sections[index][2])
        if pattern not in patterns:
            patterns.append(pattern)
    hot_bytes = sum(sections[i][1] for i in hot)
    total_bytes = sum(size for _, size, _ in sections)
    matched = matcher(patterns)
    matched_bytes = sum(size for _, size, name in sections if matched(name))
    with open(output, "w") as script:
        script.write(
            f"/* The code runs of {function} execute: {len(hot)} functions, "
            f"{hot_bytes // 1024} KB of {total_bytes // 1024} KB; with every copy of the generic\n"
            f"   ones, {matched_bytes // 1024} KB.\n"
            "   Written by infra/hot-code.sh from traces of the benchmark; read by "
            "infra/hot-code/build.rs. */\n"
            "SECTIONS {\n  .text.hot : {\n    *(\n"
        )
        for pattern in patterns:
            script.write(f"      {pattern}\n")
        script.write("    )\n  }\n} INSERT BEFORE .text;\n")
    print(
        f"{function}: {len(hot)} hot functions, {hot_bytes // 1024} KB of {total_bytes // 1024} KB, "
        f"{matched_bytes // 1024} KB under {len(patterns)} patterns "
        f"(load base {base:#x}, {votes} entries agree)"
    )


def pattern_of(section):
    """The section's name as a linker script pattern that matches the same function in other
    builds: a Rust symbol's hashes, LLVM's numbering and GCC's placement and copies as wildcards."""
    if any(c in section for c in "*?[]\\\"() \t"):
        sys.exit(f"hot_code.py: a section name the script cannot hold: {section}")
    return generalised(section)


def generalised(section):
    """`pattern_of` without the check: patterns it wrote come back unchanged."""
    prefix, name = ".text.", section[len(".text."):]
    placed = PLACEMENT.match(section)
    if placed:
        prefix, name = ".text.*", section[placed.end():]
    name, copies = GCC_COPY.subn("", name)
    if not copies:
        name, copies = LOCAL_NUMBER.subn("", name)
    name = CRATE_HASH.sub("Cs*_", RUST_HASH.sub("17h*", name))
    if copies and not name.endswith("*"):
        name += "*"
    return prefix + name


def matcher(patterns):
    """Whether a section name matches one of the patterns, as the linker will match it."""
    exact = {p for p in patterns if "*" not in p}
    prefixes = tuple(p[:-1] for p in patterns if p.endswith("*") and p.count("*") == 1)
    globs = [re.compile(".*".join(map(re.escape, p.split("*"))) + "$") for p in patterns
             if "*" in p and not (p.endswith("*") and p.count("*") == 1)]
    return lambda name: (name in exact or name.startswith(prefixes)
                         or any(g.match(name) for g in globs))


if __name__ == "__main__":
    main()
