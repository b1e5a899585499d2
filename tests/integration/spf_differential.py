#!/usr/bin/python3
"""Differential SPF testing: credence against pyspf (Debian python3-spf) on generated cases.

A seeded generator writes SPF records that use every mechanism and modifier, macros with
random letters, transformers and delimiters (upper-case letters too), nested include and
redirect, void names, DNS-term counts of 9, 10 and 11, IPv4, IPv6 and loopback clients, the
null sender and local-parts with "+ - . =". Every case lives under its own name (cN.test), and
its client address is its own, so one BIND named (tests/integration/named_fixture.py, one root
zone) serves all cases on 127.0.0.1. credence (`credence spf --dns 127.0.0.1:PORT`) and pyspf
(pointed at the same server only, see spf_pyspf.py) must give the same result, and for fail the
same explanation.

pyspf departs from RFC 7208 in a few places (docs/conformance.md). A case where credence and
plain pyspf differ is run again with pyspf corrected at exactly those places (CORRECTIONS,
each a small monkeypatch with its RFC section); a disagreement that a correction removes is
"explained" and counted under it, any other is "unexplained" and fails the run.

    CREDENCE_BIN=build/plugin/cli/credence /usr/bin/python3 tests/integration/spf_differential.py \\
        --cases 5000 --seed 1
"""
import argparse
import ipaddress
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from named_fixture import Named  # noqa: E402
import spf_pyspf  # noqa: E402
import spf  # noqa: E402  (Debian python3-spf)

CREDENCE_DEFAULT_EXP = "See https://www.openspf.net/Why?s="
LOCAL_PARTS = ["user", "first.last", "a+tag", "x-y", "a=b", "o.k+z-1=2", "bounce+x=y-z",
               "Mixed.Case", "postmaster", "u_1,2/3"]
DELIMITERS = ".-+,/_="

# ---------------------------------------------------------------------------------------------
# RFC 7208 §7 expansion, used only to decide where the generator puts records (so that about
# half of the macro terms match). Neither checker sees it.


def split_parts(value, delims):
    parts, cur = [], ""
    for ch in value:
        if ch in delims:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def url_escape(s):
    out = ""
    for b in s.encode():
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-._~"):
            out += c
        else:
            out += "%%%02X" % b
    return out


def rfc_expand(spec, ctx, domain):
    """The name RFC 7208 §7 gives for domain-spec `spec` (lower-case, no trailing dot)."""
    out, i = "", 0
    while i < len(spec):
        c = spec[i]
        if c != "%":
            out += c
            i += 1
            continue
        n = spec[i + 1]
        if n == "%":
            out += "%"
            i += 2
            continue
        if n == "_":
            out += " "
            i += 2
            continue
        if n == "-":
            out += "%20"
            i += 2
            continue
        close = spec.index("}", i)
        body = spec[i + 2:close]
        i = close + 1
        letter, j = body[0], 1
        digits = ""
        while j < len(body) and body[j].isdigit():
            digits += body[j]
            j += 1
        rev = j < len(body) and body[j] in "rR"
        if rev:
            j += 1
        delims = body[j:] or "."
        value = dict(ctx, d=domain)[letter.lower()]
        parts = split_parts(value, delims)
        if rev:
            parts.reverse()
        if digits and int(digits) < len(parts):
            parts = parts[-int(digits):]
        v = ".".join(parts)
        out += url_escape(v) if letter.isupper() else v
    if out.endswith("."):
        out = out[:-1]
    while len(out) > 253 and "." in out:
        out = out[out.index(".") + 1:]
    return out.lower()


def nibbles(ip):
    return ".".join(ipaddress.ip_address(ip).exploded.replace(":", "").upper())


# ---------------------------------------------------------------------------------------------
# The generator.


class Case:
    def __init__(self, n, rng):
        self.n, self.rng = n, rng
        self.base = "c%d.test" % n
        self.records = {}  # name -> [(type, data)]
        self.dns_terms_left = 0
        kind = rng.random()
        if kind < 0.04:
            self.ip = rng.choice(["127.0.0.1", "::1"])
            self.unique_ip = False
        elif kind < 0.30:
            self.ip = "2001:db8:%x::%x" % (n // 65536, n % 65536 + 1)
            self.unique_ip = True
        else:
            self.ip = "10.%d.%d.%d" % (n // 65536 % 256, n // 256 % 256, n % 256)
            self.unique_ip = True
        self.v6 = ":" in self.ip
        self.helo = "mx.%s" % self.base
        if rng.random() < 0.1:
            self.mail_from = ""
            self.domain = self.helo
            local, sender = "postmaster", "postmaster@" + self.helo
        else:
            local = rng.choice(LOCAL_PARTS)
            if rng.random() < 0.03:
                local = ".".join(["long%02d" % k for k in range(rng.randint(20, 40))])
            self.domain = self.base
            self.mail_from = sender = local + "@" + self.base
        self.ctx = {"s": sender, "l": local, "o": sender.rsplit("@", 1)[1],
                    "i": nibbles(self.ip) if self.v6 else self.ip,
                    "v": "ip6" if self.v6 else "in-addr", "h": self.helo, "p": "unknown",
                    "c": str(ipaddress.ip_address(self.ip)), "r": "credence"}
        self.fam = "AAAA" if self.v6 else "A"
        # The client's validated name (RFC 7208 §5.5), planted for unique addresses only.
        if self.unique_ip:
            name = rng.choice(["h.%s" % self.base, "h.other%d.test" % n, "h.%s" % self.base])
            self.add(self.reverse(), "PTR", name + ".")
            self.add(name, self.fam, self.ip if rng.random() < 0.8 else self.other_ip())
            if rng.random() < 0.2:  # a second, unvalidated name
                self.add(self.reverse(), "PTR", "x.%s." % self.base)
                self.add("x.%s" % self.base, self.fam, self.other_ip())
        self.record_at(self.domain, depth=0)

    def reverse(self):
        return ipaddress.ip_address(self.ip).reverse_pointer

    def other_ip(self):
        return "2001:db8:ffff::%x" % self.rng.randint(1, 65535) if self.v6 else \
            "192.0.2.%d" % self.rng.randint(1, 254)

    def add(self, name, rtype, data):
        name = name.lower().rstrip(".")
        labels = name.split(".")
        if len(name) > 253 or any(not x or len(x) > 63 for x in labels):
            return  # no such name in DNS
        self.records.setdefault(name, []).append((rtype, data))

    # -- domain-specs ---------------------------------------------------------------------
    def macro(self, letters="slodihvp"):
        rng = self.rng
        letter = rng.choice(letters)
        if letter == "p" and not self.unique_ip:
            letter = "d"
        if rng.random() < 0.15:
            letter = letter.upper()
        t = ""
        if rng.random() < 0.4:
            t += str(rng.choice([1, 1, 2, 2, 3, 4, 5, 9, 12]))
        if rng.random() < 0.3:
            t += rng.choice("rR")
        if rng.random() < 0.3:
            t += "".join(rng.sample(DELIMITERS, rng.randint(1, 2)))
        return "%{" + letter + t + "}"

    def spec(self, domain):
        """A domain-spec; most end in this case's own name."""
        rng = self.rng
        r = rng.random()
        if r < 0.08:
            return rng.choice(["%{d}", "%{o}", "%{h}", "%{d2}", "%{d3}"])
        if r < 0.11:  # long: RFC 7208 §7.3 truncation from the left
            return ".".join(["%{o}"] * rng.randint(24, 32)) + "." + self.base
        labels = []
        for _ in range(rng.randint(1, 3)):
            k = rng.random()
            if k < 0.45:
                labels.append(self.macro())
            elif k < 0.55:
                labels.append(rng.choice(["u", "x", "_spf"]) + self.macro())
            elif k < 0.6:
                labels.append(rng.choice(["%%", "%_", "%-"]) + "q")
            else:
                labels.append(rng.choice(["x", "bl", "_spf", "a-b", "z9"]))
        end = rng.random()
        if end < 0.6:
            tail = self.base
        elif end < 0.85:
            tail = "%{d}"
        else:
            tail = "%{o}"
        return ".".join(labels) + "." + tail + ("." if rng.random() < 0.05 else "")

    def name_for(self, spec, domain):
        return rfc_expand(spec, self.ctx, domain)

    # -- records --------------------------------------------------------------------------
    def mech_address(self, name, want_match):
        if want_match is None:
            return  # void
        self.add(name, self.fam, self.ip if want_match else self.other_ip())

    def record_at(self, domain, depth):
        rng = self.rng
        terms = []
        has_all = False
        limit_case = depth == 0 and rng.random() < 0.1
        if limit_case:
            n = rng.choice([9, 10, 11])
            for k in range(n):
                name = "n%d.%s" % (k, domain)
                kind = rng.choice(["a:", "a:", "mx:"])
                terms.append(kind + name)
                # Answers that never match: no void lookup, every term counts.
                if kind == "a:":
                    self.add(name, self.fam, self.other_ip())
                else:
                    self.add(name, "MX", "10 mxh%d.%s." % (k, self.base))
                    self.add("mxh%d.%s" % (k, self.base), self.fam, self.other_ip())
            terms.append(("ip6:" if self.v6 else "ip4:") + str(ipaddress.ip_address(self.ip)))
            terms.append("-all")
            self.add(domain, "TXT", "v=spf1 " + " ".join(terms))
            return
        for _ in range(rng.randint(1, 5)):
            terms.append(self.qualifier() + self.mechanism(domain, depth))
        if rng.random() < 0.7:
            terms.append(rng.choice(["-all", "~all", "?all", "+all", "all", "-all"]))
            has_all = True
        if rng.random() < 0.15:
            terms.insert(rng.randint(0, len(terms)), rng.choice(
                ["foo=%{d}", "x-y.z=abc", "moo.cow=%{l}"]))
        if rng.random() < 0.3 and depth < 2:
            target = self.target(domain, depth)
            terms.insert(rng.randint(0, len(terms)), "redirect=" + target)
        if rng.random() < 0.3:
            exp = self.explanation(domain)
            terms.insert(rng.randint(0, len(terms)), "exp=" + exp)
        if not has_all and rng.random() < 0.1:
            pass  # falls off the end: neutral
        self.add(domain, "TXT", "v=spf1 " + " ".join(terms))

    def qualifier(self):
        return self.rng.choice(["", "", "+", "-", "~", "?"])

    def target(self, domain, depth):
        """An include/redirect domain-spec, with a record planted at its expansion."""
        rng = self.rng
        if rng.random() < 0.5:
            spec = "i%d-%d.%s" % (depth, rng.randint(0, 999), self.base)
        else:
            spec = self.spec(domain)
        name = self.name_for(spec, domain)
        r = rng.random()
        if r < 0.85 and name.endswith(self.base) and name not in self.records:
            self.record_at(name, depth + 1)
        # else: no record there (permerror), or a record planted before
        return spec

    def explanation(self, domain):
        rng = self.rng
        spec = rng.choice(["why.%s" % self.base, "%{d}", "why.%{d}", self.spec(domain)])
        name = self.name_for(spec, domain)
        if name.endswith(self.base) and name not in self.records:
            words = []
            for _ in range(rng.randint(1, 4)):
                k = rng.random()
                if k < 0.5:
                    words.append(self.macro("slodihvcr"))
                elif k < 0.6:
                    words.append(rng.choice(["%%", "%_", "%-"]))
                else:
                    words.append(rng.choice(["denied", "see", "not-allowed", "for"]))
            self.add(name, "TXT", " ".join(words))
        return spec

    def mechanism(self, domain, depth):
        rng = self.rng
        kind = rng.choice(["ip", "ip", "a", "a", "mx", "ptr", "exists", "exists", "include"])
        match = rng.choice([True, False, None]) if rng.random() < 0.9 else True
        if kind == "ip":
            if rng.random() < 0.05:
                return ("ip6:::/0" if rng.random() < 0.5 else "ip4:0.0.0.0/0")
            if self.v6:
                net = ipaddress.ip_network(self.ip + "/" + str(rng.choice([128, 64, 48])), False) \
                    if match else ipaddress.ip_network("2001:db8:ffff::/48")
                return "ip6:" + str(net) if rng.random() < 0.9 else "ip4:192.0.2.0/24"
            if self.ip.startswith("127."):
                net = "127.0.0.0/8" if match else "192.0.2.0/24"
            else:
                net = str(ipaddress.ip_network(self.ip + "/" + str(rng.choice([32, 24, 16])),
                                               False)) if match else "192.0.2.0/24"
            return "ip4:" + net if rng.random() < 0.9 else "ip6:2001:db8::/32"
        if kind in ("a", "mx"):
            spec = self.spec(domain) if rng.random() < 0.6 else None
            name = self.name_for(spec, domain) if spec else domain
            cidr = ""
            if rng.random() < 0.25:
                c4 = rng.choice([0, 8, 24, 32])
                c6 = rng.choice([0, 48, 64, 128])
                cidr = rng.choice(["/%d" % c4, "//%d" % c6, "/%d//%d" % (c4, c6)])
            if name.endswith(self.base):
                if kind == "a":
                    self.mech_address(name, match)
                elif match is not None:
                    hosts = rng.randint(1, 3) if rng.random() < 0.95 else 11
                    for k in range(hosts):
                        host = "mx%d.%s" % (rng.randint(0, 99999), self.base)
                        self.add(name, "MX", "%d %s." % (k * 10, host))
                        self.add(host, self.fam, self.ip if (match and k == hosts - 1)
                                 else self.other_ip())
            return kind + (":" + spec if spec else "") + cidr
        if kind == "ptr":
            if rng.random() < 0.5:
                return "ptr"
            return "ptr:" + rng.choice([self.base, "other%d.test" % self.n, self.spec(domain)])
        if kind == "exists":
            spec = self.spec(domain)
            name = self.name_for(spec, domain)
            if name.endswith(self.base) and match is not None:
                self.add(name, "A", "127.0.0.2")
            return "exists:" + spec
        return "include:" + self.target(domain, depth) if depth < 2 else "exists:" + \
            self.spec(domain)


def zone_name(name):
    """A BIND master-file owner name: every octet outside [a-z0-9-_] as \\DDD."""
    out = []
    for label in name.split("."):
        esc = ""
        for ch in label:
            if ch.isascii() and (ch.isalnum() or ch in "-_"):
                esc += ch
            else:
                esc += "\\%03d" % ord(ch)
        out.append(esc)
    return ".".join(out) + "."


def zone_text(cases):
    lines = ["$TTL 300",
             "@ IN SOA ns.root. hostmaster.root. 1 3600 600 86400 300",
             "@ IN NS ns.root.", "ns.root. IN A 127.0.0.1"]
    for case in cases:
        for name, rrs in case.records.items():
            for rtype, data in rrs:
                if rtype == "TXT":
                    chunks = [data[k:k + 200] for k in range(0, len(data), 200)] or [""]
                    data = " ".join('"%s"' % c.replace("\\", "\\\\").replace('"', '\\"')
                                    for c in chunks)
                lines.append("%s 300 IN %s %s" % (zone_name(name), rtype, data))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# pyspf's departures from RFC 7208, each undone by a small patch (docs/conformance.md).

_orig_expand = spf.query.expand
_orig_joiners = dict(spf.JOINERS)
_orig_invalid_macro = spf.RE_INVALID_MACRO
_expand_fixes = set()  # which of "truncate", "exp-truncate" the expand wrapper applies


def _expand_corrected(self, s, stripdot=True):
    if not stripdot and "exp-truncate" in _expand_fixes:
        # An explanation is no domain name: expand it piece by piece so that pyspf's
        # 253-octet truncation never sees the whole text.
        out, end = "", 0
        for m in spf.RE_CHAR.finditer(s):
            out += s[end:m.start()] + _orig_expand(self, m.group(0), False)
            end = m.end()
        return out + s[end:]
    r = _orig_expand(self, s, stripdot)
    if stripdot and "truncate" in _expand_fixes:
        while len(r) > 253 and "." in r:
            r = r[r.index(".") + 1:]
    return r


def _fix_expand(name, on):
    (_expand_fixes.add if on else _expand_fixes.discard)(name)
    spf.query.expand = _expand_corrected if _expand_fixes else _orig_expand


class _MacroSyntax:
    """RFC 7208 §7.1 macro-string, checked as a whole (pyspf's pattern reads a final "%%"
    as a lone "%")."""
    valid = __import__("re").compile(r'(?:[^%]|%%|%_|%-|%\{[^}]*\})*\Z')

    def search(self, s):
        return None if self.valid.match(s) else True


_orig_validate = spf.query.validate_mechanism
_orig_parse = spf.parse_mechanism


def _validate_reached_include(self, mech):
    """pyspf refuses "include:<current domain>" while parsing the record, before any
    mechanism is evaluated; RFC 7208 §4.6.2 evaluates left to right, so an earlier match
    decides and a reached self-include runs into the §4.6.4 limit."""
    try:
        return _orig_validate(self, mech)
    except spf.PermError as e:
        if "trivial recursion" not in str(e):
            raise
        m, arg, _, _ = spf.parse_mechanism(mech, self.d)
        result = spf.RESULTS.get(m[0])
        return mech, "include", self.expand_domain(arg), self.cidrmax, result or "pass"


def _parse_literal_domain(text, d):
    """The implicit domain of "a", "mx" and "ptr" is the current domain, a name; pyspf
    expands it again as a macro-string ("z9.%20q.example" is then a syntax error)."""
    r = _orig_parse(text, d)
    if d is not None and r[1] is d:
        return (r[0], d.replace("%", "%%"), r[2], r[3])
    return r


_orig_re_args = spf.RE_ARGS
# RFC 5234 §2.3: ABNF quoted strings are case-insensitive, so "R" is the reversal
# transformer too; pyspf's pattern knows only "r".
_re_args_any_case = __import__("re").compile(r'([0-9]*)([rR]?)([^0-9a-zA-Z]*)')


class _AllJoinDot(dict):
    def get(self, key, default=None):
        return "."


CORRECTIONS = {
    # RFC 7208 §7.3: "the parts are rejoined using "." and not the original splitting
    # characters"; pyspf rejoins with "." only for l and s.
    "join": ("RFC 7208 §7.3 rejoin with '.'",
             lambda on: setattr(spf, "JOINERS", _AllJoinDot() if on else dict(_orig_joiners))),
    # RFC 7208 §7.3: labels are removed from the left "until the total length does not
    # exceed 253 characters"; pyspf removes one.
    "truncate": ("RFC 7208 §7.3 truncate until <= 253", lambda on: _fix_expand("truncate", on)),
    # RFC 7208 §7.3 truncation is for a domain name "used in a domain name query"; pyspf also
    # cuts an explanation longer than 253 characters at its first dot.
    "exp-truncate": ("RFC 7208 §6.2/§7.3 (explanations are not truncated)",
                     lambda on: _fix_expand("exp-truncate", on)),
    # RFC 7208 §7.1: "%%" is a macro-expand wherever it stands; pyspf refuses a text that
    # ends in "%%" (so the explanation falls back to the default).
    "trailing-%%": ("RFC 7208 §7.1 (a final '%%' is valid)",
                    lambda on: setattr(spf, "RE_INVALID_MACRO",
                                       _MacroSyntax() if on else _orig_invalid_macro)),
    "reverse-R": ("RFC 7208 §7.1 with RFC 5234 §2.3 (the 'R' transformer reverses too)",
                  lambda on: setattr(spf, "RE_ARGS", _re_args_any_case if on else _orig_re_args)),
    "include-self": ("RFC 7208 §4.6.2 left-to-right evaluation (include:<current domain> "
                     "refused before evaluation)",
                     lambda on: setattr(spf.query, "validate_mechanism",
                                        _validate_reached_include if on else _orig_validate)),
    "implicit-domain": ("RFC 7208 §5.3/§5.4/§5.5 (the implicit <domain> is a name, not a "
                        "macro-string)",
                        lambda on: setattr(spf, "parse_mechanism",
                                           _parse_literal_domain if on else _orig_parse)),
}


def set_corrections(names):
    for name, (_, apply) in CORRECTIONS.items():
        apply(name in names)


# ---------------------------------------------------------------------------------------------


def run_credence(binary, port, case):
    out = subprocess.run([binary, "spf", "--dns", "127.0.0.1:%d" % port, "--ip", case.ip,
                          "--helo", case.helo, "--mail-from", case.mail_from,
                          "--format", "json"], capture_output=True, text=True, timeout=60)
    try:
        j = json.loads(out.stdout)
    except ValueError:
        return ("crash rc=%d %s" % (out.returncode, out.stderr[-300:]), "", "")
    exp = j.get("explanation", "") if j["result"] == "fail" else ""
    if exp.startswith(CREDENCE_DEFAULT_EXP):
        exp = spf_pyspf.DEFAULT_EXPLANATION
    return (j["result"], exp, j.get("detail", ""))


def run_pyspf(port, case):
    try:
        return spf_pyspf.check(port, case.ip, case.mail_from, case.helo)
    except Exception as e:  # pyspf raising is itself a finding
        return ("exception " + type(e).__name__ + ": " + str(e)[:200], "")


def same(c, p):
    """Same result, and for fail the same explanation (credence cuts at 1,024 bytes)."""
    if c[0] != p[0]:
        return False
    if c[0] == "fail" and c[1] != p[1][:1024]:
        return False
    return True


def run(binary, n_cases, seed, first=0, verbose=False, show=10):
    rng = random.Random(seed)
    cases = [Case(first + k, rng) for k in range(n_cases)]
    stats = {"cases": n_cases, "agree": 0, "explained": {}, "unexplained": []}
    questions_before = len(spf_pyspf.questions)
    started = time.monotonic()
    # Owner names made of macro values hold "_", "%", "=" ...: not host names (check-names).
    with Named({".": zone_text(cases)}, extra_options="check-names primary ignore;") as ns:
        for case in cases:
            c = run_credence(binary, ns.port, case)
            set_corrections(())
            p = run_pyspf(ns.port, case)
            if same(c, p):
                stats["agree"] += 1
                continue
            why = None
            for name in CORRECTIONS:
                set_corrections((name,))
                if same(c, run_pyspf(ns.port, case)):
                    why = name
                    break
            if why is None:
                set_corrections(tuple(CORRECTIONS))
                if same(c, run_pyspf(ns.port, case)):
                    why = "+".join(CORRECTIONS)
            set_corrections(())
            if why:
                stats["explained"][why] = stats["explained"].get(why, 0) + 1
            else:
                stats["unexplained"].append(
                    {"case": case.n, "ip": case.ip, "mail_from": case.mail_from,
                     "helo": case.helo, "credence": c, "pyspf": p,
                     "records": {k: v for k, v in case.records.items()}})
    stats["seconds"] = round(time.monotonic() - started, 1)
    stats["pyspf_questions"] = len(spf_pyspf.questions) - questions_before
    stats["pyspf_refused"] = len(spf_pyspf.refused)
    return stats


def report(stats, show=10):
    print("cases: %d, agree: %d, explained: %d, unexplained: %d (%.1f s; pyspf asked named %d "
          "questions, tried elsewhere %d times)" % (
              stats["cases"], stats["agree"], sum(stats["explained"].values()),
              len(stats["unexplained"]), stats["seconds"], stats["pyspf_questions"],
              stats["pyspf_refused"]))
    for name, count in sorted(stats["explained"].items()):
        if name in CORRECTIONS:
            label = "%s (%s)" % (name, CORRECTIONS[name][0])
        else:
            label = "several at once (%s)" % name
        print("  explained by pyspf's departure from %s: %d" % (label, count))
    for u in stats["unexplained"][:show]:
        print("UNEXPLAINED case %d: ip=%s mail_from=%r helo=%s\n  credence=%s\n  pyspf=%s" % (
            u["case"], u["ip"], u["mail_from"], u["helo"], u["credence"], u["pyspf"]))
        for name, rrs in sorted(u["records"].items()):
            for rtype, data in rrs:
                print("    %s %s %s" % (name, rtype, data))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1000, help="cases per named instance")
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--json", help="write the statistics here")
    args = ap.parse_args()
    binary = os.environ.get("CREDENCE_BIN", "build/plugin/cli/credence")
    total = {"cases": 0, "agree": 0, "explained": {}, "unexplained": [], "seconds": 0,
             "pyspf_questions": 0, "pyspf_refused": 0}
    for first in range(0, args.cases, args.batch):
        n = min(args.batch, args.cases - first)
        s = run(binary, n, args.seed * 1000003 + first, first=first)
        for k in ("cases", "agree", "seconds", "pyspf_questions"):
            total[k] += s[k]
        total["pyspf_refused"] = s["pyspf_refused"]
        for k, v in s["explained"].items():
            total["explained"][k] = total["explained"].get(k, 0) + v
        total["unexplained"] += s["unexplained"]
    report(total, args.show)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(total, f, indent=1)
    return 1 if total["unexplained"] or total["pyspf_refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
