#!/usr/bin/python3
"""The hosts' weights (issue 18, items 5 and 6). rspamd is where rspamd users set weights, so
the rspamd module registers every symbol with credence's default weight
(plugin/rspamd/credence.lua `default_scores` = policy/score/symbols.cc). SpamAssassin's
rules carry scores for SpamAssassin's scale (plugin/spamassassin/credence.cf), held here to the
properties credence's own table has (docs/scoring.md) and to the documented intent (a p=reject
spoof reaches required_score 5.0); docs/spamassassin.md's table must say the same numbers.
Exits 1 on a difference."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CREDENCE_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
REQUIRED_SCORE = 5.0  # SpamAssassin's default required_score
INFO = 0.001          # a rule shown but not scored (SpamAssassin drops a rule scored 0)

FAILURES = []


def check(name, ok, detail=""):
    print("%s: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else "  -- %s" % (detail,)))
    if not ok:
        FAILURES.append(name)


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


credence = {m.group(1): float(m.group(2)) for m in
            re.finditer(r'\{"(CREDENCE_[A-Z_]+)",\s*(-?\d+(?:\.\d+)?),', read("policy/score/symbols.cc"))}
lua = read("plugin/rspamd/credence.lua")
block = re.search(r"local default_scores = \{(.*?)\n\}", lua, re.S)
rspamd = {m.group(1): float(m.group(2)) for m in
          re.finditer(r"^\s+(CREDENCE_[A-Z_]+) = (-?\d+(?:\.\d+)?),", block.group(1) if block else "", re.M)}
cf = read("plugin/spamassassin/credence.cf")
sa = {m.group(1): float(m.group(2)) for m in
      re.finditer(r"^score\s+(CREDENCE_[A-Z_]+)\s+(-?\d+(?:\.\d+)?)\s*$", cf, re.M)}

check("read %d symbols from policy/score/symbols.cc" % len(credence), len(credence) >= 20)

# rspamd: the same weights as credence's table, for every symbol.
diff = {k: (credence.get(k), rspamd.get(k)) for k in set(credence) | set(rspamd)
        if credence.get(k) != rspamd.get(k)}
check("rspamd default_scores are credence's default weights (%d symbols)" % len(rspamd),
      not diff, diff)

# SpamAssassin: a score for every symbol, with the sign of credence's weight (a credit stays
# a credit, a penalty a penalty, nothing stays informational).
missing = sorted(set(credence) - set(sa))
check("credence.cf scores every symbol", not missing, missing)
signs = {k: (credence[k], sa[k]) for k in credence if k in sa and
         ((credence[k] > 0) != (sa[k] > INFO) or (credence[k] < 0) != (sa[k] < 0))}
check("credence.cf keeps the sign of each of credence's weights (0 -> %s)" % INFO, not signs, signs)
temp = {k: v for k, v in sa.items() if k.endswith("_TEMPERROR") and v > INFO}
check("every temperror with no policy known is informational in SpamAssassin", not temp and
      {"CREDENCE_DKIM_TEMPERROR", "CREDENCE_SPF_TEMPERROR", "CREDENCE_DMARC_TEMPERROR"} <= set(sa),
      temp)
# A DMARC temperror with the policy known scores as that policy's fail (docs/security.md: a
# spoof naming an aligned domain whose DNS fails scores no better), in every table.
for table_name, table in (("credence", credence), ("rspamd", rspamd), ("SpamAssassin", sa)):
    pairs = {k: (table.get("CREDENCE_DMARC_TEMPERROR_" + k), table.get("CREDENCE_DMARC_" + k))
             for k in ("REJECT", "QUARANTINE", "SOFTFAIL")}
    check("%s: DMARC temperror under a policy scores as its fail" % table_name,
          all(a is not None and a == b for a, b in pairs.values()), pairs)
    pairs = {k: (table.get("CREDENCE_DMARC_PARTIAL_" + k), table.get("CREDENCE_DMARC_" + k))
             for k in ("REJECT", "QUARANTINE", "SOFTFAIL")}
    check("%s: a DMARC pass only through partial signatures scores as its fail" % table_name,
          all(a is not None and a == b for a, b in pairs.values()), pairs)
    check("%s: a partial signature scores like a failing one" % table_name,
          table.get("CREDENCE_DKIM_PARTIAL") == table.get("CREDENCE_DKIM_FAIL"),
          (table.get("CREDENCE_DKIM_PARTIAL"), table.get("CREDENCE_DKIM_FAIL")))
check("a failing signature scores above an unsigned message",
      sa.get("CREDENCE_DKIM_FAIL", 0) > sa.get("CREDENCE_DKIM_NONE", 1))
symbols_only = {k: v for k, v in sa.items() if k in credence}
check("DMARC fail under reject is the largest score (%s)" % sa.get("CREDENCE_DMARC_REJECT"),
      sa.get("CREDENCE_DMARC_REJECT") == max(symbols_only.values()))
check("an aligned DMARC pass lowers the score", sa.get("CREDENCE_DMARC_PASS", 0) < 0)
check("CREDENCE_LIMIT at least CREDENCE_DKIM_FAIL (a limit never scores better)",
      sa.get("CREDENCE_LIMIT", 0) >= sa.get("CREDENCE_DKIM_FAIL", 1))
spoof = sa.get("CREDENCE_DMARC_REJECT", 0)
check("a DMARC failure under p=reject alone reaches required_score %.1f (%.1f)"
      % (REQUIRED_SCORE, spoof), spoof >= REQUIRED_SCORE)
signed = sum(sa.get(k, 0) for k in ("CREDENCE_DKIM_PASS", "CREDENCE_SPF_PASS", "CREDENCE_DMARC_PASS"))
check("an authenticated message gets a small credit (%.1f, above -1)" % signed, -1 < signed < 0)
quarantine = sa.get("CREDENCE_DMARC_QUARANTINE", 0)
check("p=quarantine: under required_score alone, reached with an SPF fail (%.1f, %.1f)"
      % (quarantine, quarantine + sa.get("CREDENCE_SPF_FAIL", 0)),
      quarantine < REQUIRED_SCORE <= quarantine + sa.get("CREDENCE_SPF_FAIL", 0))

# docs/spamassassin.md's "Scores" table says the same numbers as credence.cf.
doc = read("docs/spamassassin.md")
table = doc[doc.index("## Scores"):doc.index("## The envelope")]
wrong = {}
for row in re.finditer(r"^\| ([A-Z_, ]+?) \| (-?\d+(?:\.\d+)?)(?: each)? \|", table, re.M):
    for name in row.group(1).split(", "):
        if sa.get(name) != float(row.group(2)):
            wrong[name] = (row.group(2), sa.get(name))
documented = set(re.findall(r"^\| ([A-Z_, ]+?) \|", table, re.M))
check("docs/spamassassin.md's score table matches credence.cf (%d rows)" % len(documented),
      not wrong and len(documented) >= 8, wrong)

print("%d check(s) failed" % len(FAILURES) if FAILURES else "all checks passed")
sys.exit(1 if FAILURES else 0)
