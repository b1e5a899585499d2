#!/usr/bin/python3
"""credence(1), credence.toml(5), --help and docs/cli.md cannot drift (issue 15): the man
pages are generated from the program (docs/man/make_man.py, at build time into
BUILD/generated/); every option of `credence --help` and of every subcommand's --help must be
in credence(1) and in docs/cli.md, and every key line of the shipped credence.toml (from
`credence config template`) in credence.toml(5). `credence config check` on the shipped file
prints the built-in defaults; on a bad file it exits 2 naming FILE:LINE:COL.
PASS/FAIL per check, exit 1 on failure.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_serve import FAILURES, SRC, check, find_credence  # noqa: E402

CRED = find_credence()
GEN = os.path.join(os.environ.get("CREDENCE_BUILD", os.path.join(SRC, "build")), "generated")


def run(args):
    return subprocess.run([CRED] + args, capture_output=True, text=True)


def options_of(help_text):
    """The long options (and the subcommands) of one --help: the first column only."""
    opts, subs, section = set(), [], ""
    for line in help_text.splitlines():
        m = re.match(r"^([A-Z][A-Za-z ]*):$", line)
        if m:
            section = m.group(1)
            continue
        if not line.startswith("  ") or line.startswith("   "):
            continue
        term = re.split(r"\s{2,}", line.strip())[0]
        if section == "Subcommands":
            subs.append(term.split()[0])
        opts.update(o for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", term.split(" ")[0])
                    if o not in ("--help",))
    return opts, subs


def main():
    man1 = open(os.path.join(GEN, "credence.1")).read().replace("\\-", "-")
    man5 = open(os.path.join(GEN, "credence.toml.5")).read().replace("\\-", "-")
    cli_md = open(os.path.join(SRC, "docs/cli.md")).read()
    queue, seen = [[]], 0
    while queue:
        path = queue.pop(0)
        opts, subs = options_of(run(path + ["--help"]).stdout)
        name = " ".join(["credence"] + path)
        seen += len(opts)
        missing_man = sorted(o for o in opts if o not in man1)
        missing_md = sorted(o for o in opts if not re.search(re.escape(o) + r"(?![a-z0-9-])",
                                                             cli_md))
        check("%s: its %d options are in credence(1)" % (name, len(opts)), not missing_man,
              missing_man)
        check("%s: its %d options are in docs/cli.md" % (name, len(opts)), not missing_md,
              missing_md)
        if path:
            check("%s: has a section in credence(1)" % name, name.upper() in man1, name)
            check("%s: is in docs/cli.md" % name, ("`%s" % name) in cli_md, name)
        queue += [path + [s] for s in subs]
    check("options found in the help texts (%d)" % seen, seen > 40, seen)

    template = run(["config", "template"]).stdout
    keys = [l for l in template.splitlines() if re.match(r"^#[A-Za-z_\[]", l)]
    missing = [k for k in keys if k[1:] not in man5]
    check("credence.toml(5) has every key of the template (%d)" % len(keys),
          len(keys) > 50 and not missing, missing[:5])
    shipped = os.path.join(GEN, "credence.toml")
    check("the shipped credence.toml is `credence config template`",
          open(shipped).read() == template, "")
    with tempfile.TemporaryDirectory() as d:
        uncommented = os.path.join(d, "all-keys.toml")
        with open(uncommented, "w") as f:
            f.write(re.sub(r"(?m)^#([A-Za-z_\[])", r"\1", template))
        a = run(["config", "check", shipped])
        b = run(["config", "check", uncommented])
        body = lambda r: "\n".join(l for l in r.stdout.splitlines() if not l.startswith("#"))
        check("config check: the shipped file and the file with every key uncommented give the "
              "same configuration", a.returncode == 0 and b.returncode == 0 and
              body(a) == body(b) and 'authserv_id = "localhost"' in body(a),
              (a.returncode, b.returncode, a.stderr, b.stderr))
        bad = os.path.join(d, "bad.toml")
        with open(bad, "w") as f:
            f.write("[limits]\nmin_rsa_bits = 512\n")
        r = run(["config", "check", bad])
        check("config check: a bad file exits 2 naming FILE:LINE:COL and the key (%s)"
              % r.stderr.strip(), r.returncode == 2 and
              (bad + ":2:16: limits.min_rsa_bits") in r.stderr, r.stderr)
        r = run(["config", "check", os.path.join(d, "missing.toml")])
        check("config check: a missing file exits 2", r.returncode == 2, r.returncode)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
