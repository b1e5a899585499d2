#!/usr/bin/python3
"""Converts the openspf.org RFC 7208 test suite (YAML, as shipped by Debian's python3-spf in
/usr/share/doc/python3-spf/rfc7208-tests.yml.gz) into tests/data/spf/rfc7208-tests.json.

Run with Debian's Python (python3-yaml):
  /usr/bin/python3 tests/data/spf/convert.py [SOURCE.yml.gz] > tests/data/spf/rfc7208-tests.json

Harness rules taken from the suite's own driver (testspf.py) and applied here, so the C++ test
only has to serve the zone:
  * A name whose data has SPF-type records but no TXT record also serves them as TXT.
    "TXT: NONE" suppresses that and the name then has no TXT at all.
  * SPF-type (99) records are kept as type "SPF"; credence never asks for them.
  * "TIMEOUT" entries stay in order: a question for a name whose list reaches a bare
    TIMEOUT before any record of the asked type is a temporary DNS failure.
Output: "scenarios" (description and zone of each YAML document) and "cases", one object per
test: name, scenario (index into scenarios), spec, helo, host, mailfrom, results (list: any
of them passes), explanation (or null).
"""
import gzip
import json
import sys

import yaml

DEFAULT = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz"


def records(entries):
    """Returns the zone entries of one name as JSON-able objects, in order."""
    out = []
    has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
    generated = []
    for e in entries:
        if e == "TIMEOUT":
            out.append({"type": "TIMEOUT"})
            continue
        for rtype, value in e.items():
            if rtype in ("TXT", "SPF") and isinstance(value, str):
                value = [value]
            if value == ["NONE"]:
                continue
            if value == "TIMEOUT":
                out.append({"type": rtype, "timeout": True})
                continue
            rec = {"type": rtype}
            if rtype in ("TXT", "SPF"):
                rec["strings"] = value
            elif rtype == "MX":
                rec["preference"] = int(value[0])
                rec["data"] = value[1]
            else:
                rec["data"] = value
            out.append(rec)
            if rtype == "SPF" and not has_txt:
                generated.append({"type": "TXT", "strings": value})
    return out + generated


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    opener = gzip.open if source.endswith(".gz") else open
    with opener(source, "rb") as f:
        scenarios = list(yaml.safe_load_all(f))
    cases = []
    zones = []
    for number, scenario in enumerate(scenarios):
        zones.append({"description": scenario.get("description", ""),
                      "zone": {name.lower(): records(entries)
                               for name, entries in scenario.get("zonedata", {}).items()}})
        for test_id, t in scenario["tests"].items():
            results = t["result"] if isinstance(t["result"], list) else [t["result"]]
            cases.append({
                "name": test_id,
                "scenario": number,
                "spec": str(t.get("spec", "")),
                "helo": t.get("helo", ""),
                "host": t["host"],
                "mailfrom": t.get("mailfrom", ""),
                "results": results,
                "explanation": t.get("explanation"),
            })
    json.dump({"source": "openspf.org RFC 7208 test suite (rfc7208-tests.yml, release 2014.04)",
               "scenarios": zones, "cases": cases}, sys.stdout, indent=1, sort_keys=False, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
