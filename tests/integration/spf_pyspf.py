"""pyspf (Debian python3-spf, the RFC 7208 reference) pointed at one DNS server on 127.0.0.1.

    import spf_pyspf
    result, explanation = spf_pyspf.check(port, ip, mail_from, helo)

pyspf asks through dnspython's default resolver. That resolver is replaced by one that knows
only 127.0.0.1:PORT (configure=False: /etc/resolv.conf is never read), and dnspython's
senders are wrapped so that a query to any other address raises instead of leaving the
machine; `questions` counts the queries sent (run with /usr/bin/python3).
"""
import dns.query
import dns.resolver
import spf

questions = []  # every question pyspf sent (to 127.0.0.1:PORT)
refused = []    # every attempt to reach any other server (the guard raised instead)
_allowed = {"port": None}
_udp, _tcp = dns.query.udp, dns.query.tcp


def _guard(where, port):
    if where != "127.0.0.1" or port != _allowed["port"]:
        refused.append("%s:%s" % (where, port))
        raise AssertionError("pyspf tried to query %s:%s" % (where, port))


def _guarded_udp(q, where, timeout=None, port=53, *args, **kwargs):
    _guard(where, port)
    questions.append(str(q.question[0]))
    return _udp(q, where, timeout, port, *args, **kwargs)


def _guarded_tcp(q, where, timeout=None, port=53, *args, **kwargs):
    _guard(where, port)
    questions.append(str(q.question[0]))
    return _tcp(q, where, timeout, port, *args, **kwargs)


def _refuse(*args, **kwargs):
    refused.append("another transport")
    raise AssertionError("pyspf tried a DNS transport other than UDP/TCP to 127.0.0.1")


dns.query.udp = _guarded_udp
dns.query.tcp = _guarded_tcp
for _name in ("tls", "https", "quic", "udp_with_fallback"):
    if hasattr(dns.query, _name) and _name != "udp_with_fallback":
        setattr(dns.query, _name, _refuse)


def use_server(port):
    """Points pyspf (dnspython's default resolver) at 127.0.0.1:port only."""
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.timeout = 2.0
    r.lifetime = 5.0
    r.search = []
    r.domain = dns.name.root
    dns.resolver.default_resolver = r
    _allowed["port"] = port


DEFAULT_EXPLANATION = "DEFAULT"


def check(port, ip, mail_from, helo, receiver="credence"):
    """(result, explanation) from pyspf for the MAIL FROM identity (null sender:
    postmaster@HELO). The explanation is the exp= text for fail, DEFAULT_EXPLANATION when
    the default one applies, "" for other results."""
    use_server(port)
    q = spf.query(i=ip, s=mail_from, h=helo, receiver=receiver, strict=True, timeout=5)
    q.set_default_explanation(DEFAULT_EXPLANATION)
    result, _code, explanation = q.check()
    return result, explanation if result == "fail" else ""
