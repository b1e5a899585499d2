#!/usr/bin/python3
"""Converts the ValiMail ARC test suite's validation cases (arc-draft-validation-tests.yml,
this folder; see SOURCE.txt) into arc-validation.json for tests/unit/arc_verify_test.cc.

Run with Debian's Python (python3-yaml):
  /usr/bin/python3 tests/data/arc/convert.py > tests/data/arc/arc-validation.json

Output: a list of cases, one per validation test: name, scenario (the YAML document's
description), description, spec, message (as in the suite: LF line ends), cv ("none", "pass",
"fail") and keys (name -> [TXT text]: the scenario's txt-records). The suite writes an empty
cv for a chain whose newest ARC-Seal already says cv=fail (dkimpy's verifier returns None
there); RFC 8617 §5.2 step 2 makes that "fail", and so does the conversion, noting it in
suite_cv.
"""
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "arc-draft-validation-tests.yml")
    with open(path, encoding="utf-8") as f:
        docs = list(yaml.safe_load_all(f))
    cases = []
    for doc in docs:
        if not doc:
            continue
        records = doc.get("txt-records") or doc.get("txt_records") or {}
        keys = {name.lower(): [text] for name, text in records.items()}
        for name, test in doc["tests"].items():
            suite_cv = (test.get("cv") or "").strip()
            cases.append({
                "name": name,
                "scenario": doc.get("description", "").strip(),
                "description": str(test.get("description", "")).strip(),
                "spec": str(test.get("spec", "")),
                "message": test.get("message") or "",
                "cv": suite_cv.lower() if suite_cv else "fail",
                "suite_cv": suite_cv,
                "keys": keys,
            })
    json.dump(cases, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
