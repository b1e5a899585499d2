#!/usr/bin/python3
"""The score symbols are listed in four places that must agree: the table in
policy/score/symbols.cc (what credence emits), the rspamd module's descriptions
(plugin/rspamd/credence.lua), the SpamAssassin rules (plugin/spamassassin/credence.cf) and the
table in docs/scoring.md. A symbol missing from a host's list reaches that host's users as an
unknown name (rspamd: CREDENCE_OTHER; SpamAssassin: no rule at all). Exits 1 on a difference."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CREDENCE_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


# The rspamd module's own symbols (about the service, not verdicts).
PLUGIN_ONLY = {"CREDENCE_CHECK", "CREDENCE_UNAVAILABLE", "CREDENCE_OTHER"}

lists = {
    "policy/score/symbols.cc": set(re.findall(r'\{"(CREDENCE_[A-Z_]+)",', read("policy/score/symbols.cc"))),
    "plugin/rspamd/credence.lua": set(re.findall(r"^\s+(CREDENCE_[A-Z_]+) = '",
                                                 read("plugin/rspamd/credence.lua"), re.M)) - PLUGIN_ONLY,
    "plugin/spamassassin/credence.cf": set(re.findall(r"^header\s+(CREDENCE_[A-Z_]+)\s+eval:check_credence_symbol",
                                                      read("plugin/spamassassin/credence.cf"), re.M)),
    "docs/scoring.md": set(re.findall(r"^\| (CREDENCE_[A-Z_]+) \|", read("docs/scoring.md"), re.M)),
}
want = lists["policy/score/symbols.cc"]
failed = False
if len(want) < 20:
    print("FAIL: only %d symbols read from policy/score/symbols.cc" % len(want))
    failed = True
for where, got in lists.items():
    missing, extra = sorted(want - got), sorted(got - want)
    ok = not missing and not extra
    print("%s: %s lists the %d symbols%s" % ("PASS" if ok else "FAIL", where, len(want),
          "" if ok else " -- missing %s, unknown %s" % (missing, extra)))
    failed = failed or not ok
sys.exit(1 if failed else 0)
