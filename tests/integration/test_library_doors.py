#!/usr/bin/python3
"""One door per third-party library (docs/architecture.md): the table "One door per
third-party library" names, for each library, the only production files that include its
headers. This test reads that table and every #include in verifier/, policy/ and plugin/, and
fails when a file outside a library's door includes it, when a door in the table includes
nothing of its library (a stale row), or when a library credence links has no row. Tests and
benchmarks are outside the rule (Boost.Test, nlohmann as an oracle, OpenSSL's ceiling).
Exits 1 on a difference."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CREDENCE_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
PRODUCTION = ("verifier", "policy", "plugin")

# The table's library names and the include paths that belong to each.
INCLUDES = {
    "c-ares": re.compile(r"^ares(\.h|_[a-z_]+\.h)$"),
    "OpenSSL": re.compile(r"^openssl/"),
    "libspf2": re.compile(r"^spf2/"),
    "RE2": re.compile(r"^re2/"),
    "libpsl": re.compile(r"^libpsl\.h$"),
    "libidn2": re.compile(r"^idn2\.h$"),
    "toml++": re.compile(r"^toml\+\+/"),
    "zlib": re.compile(r"^zlib\.h$"),
    "CLI11": re.compile(r"^CLI/"),
    "nlohmann/json": re.compile(r"^nlohmann/"),
    "SQLite": re.compile(r"^sqlite3\.h$"),
    "libpq": re.compile(r"^(libpq-fe\.h|libpq/|postgresql/)"),
    "expat": re.compile(r"^expat(_external)?\.h$"),
    "libzip": re.compile(r"^zip\.h$"),
}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def door_table():
    """{library: [path or folder prefix]} from docs/architecture.md."""
    text = open(os.path.join(SRC, "docs", "architecture.md"), encoding="utf-8").read()
    m = re.search(r"^## One door per third-party library\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        sys.exit("docs/architecture.md: no 'One door per third-party library' section")
    doors = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("library", "") or set(cells[0]) <= set("-"):
            continue
        paths = []
        for p in re.findall(r"`([^`]+)`", cells[1]):
            brace = re.match(r"^(.*)\{([^}]*)\}$", p)  # policy/common/regex.{h,cc}
            paths += [brace.group(1) + e for e in brace.group(2).split(",")] if brace else [p]
        doors[cells[0]] = paths
    return doors


def production_includes():
    """{repository path: [included path]} for every C/C++ file of the product."""
    found = {}
    for top in PRODUCTION:
        for root, _, files in os.walk(os.path.join(SRC, top)):
            for f in files:
                if f.endswith((".cc", ".h", ".c", ".hpp", ".cpp")):
                    path = os.path.join(root, f)
                    rel = os.path.relpath(path, SRC)
                    found[rel] = INCLUDE.findall(open(path, encoding="utf-8").read())
    return found


def in_door(rel, door):
    return rel == door or (door.endswith("/") and rel.startswith(door))


def main():
    failures = []
    doors = door_table()
    files = production_includes()
    for lib in INCLUDES:
        if lib not in doors:
            failures.append("%s: no row in docs/architecture.md's door table" % lib)
    for lib in doors:
        if lib not in INCLUDES:
            failures.append("%s: a row in the door table this test does not know" % lib)
    for lib, pattern in INCLUDES.items():
        allowed = doors.get(lib, [])
        users = sorted(rel for rel, incs in files.items() if any(pattern.search(i) for i in incs))
        for rel in users:
            if not any(in_door(rel, d) for d in allowed):
                failures.append("%s: included by %s, outside its door(s) %s" % (lib, rel, allowed))
        for d in allowed:
            if not any(in_door(rel, d) for rel in users):
                failures.append("%s: door %s includes nothing of it (stale row)" % (lib, d))
        print("%-14s %d file(s): %s" % (lib, len(users), " ".join(users)))
    for f in failures:
        print("FAIL " + f)
    print("%s: %d failure(s)" % ("FAIL" if failures else "PASS", len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
