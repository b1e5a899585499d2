#!/usr/bin/python3
"""`systemctl reload credence` (SIGHUP, the unit's ExecReload) while requests are in flight:
none is dropped (issue 15). Eight clients send signed messages without pause while the
service gets 20 SIGHUPs, the configuration file switching its authserv-id between two values
each time; every request must come back with a verdict (no error document, no closed
connection), and both authserv-ids must have been used. DNS comes from a zone file: nothing
is asked of any server. PASS/FAIL per check, exit 1 on failure.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_serve import CLIENT_GOOD, FAILURES, MailFixture, ask, check, find_credence  # noqa: E402

CLIENTS = 8
RELOADS = 20


def main():
    fx = MailFixture()
    d = tempfile.mkdtemp(prefix="credence-reload-")
    conf = os.path.join(d, "credence.toml")
    sock = os.path.join(d, "s.sock")

    def write_conf(i):
        tmp = conf + ".new"
        with open(tmp, "w") as f:
            f.write('authserv_id = "gen%d.example"\n' % (i % 2))
        os.replace(tmp, conf)  # as an editor or a package upgrade does: never half a file

    write_conf(0)
    log = open(os.path.join(d, "serve.log"), "w")
    proc = subprocess.Popen([find_credence(), "serve", "--socket", sock, "--zone", fx.zone_path,
                             "--config", conf, "--workers", "4"],
                            stdout=log, stderr=subprocess.STDOUT)
    stop = threading.Event()
    results, lock = [], threading.Lock()

    def client(n):
        while not stop.is_set():
            try:
                doc = ask(sock, fx.signed, ip=CLIENT_GOOD, mail_from="alice@example.test",
                          req_id="c%d" % n)
            except Exception as e:  # a dropped connection is a failure, not a crash
                doc = {"error": {"code": "client", "message": repr(e)}}
            with lock:
                results.append(doc)

    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        for i in range(1, RELOADS + 1):
            write_conf(i)
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.1)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(30)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
        log.close()
    out = open(os.path.join(d, "serve.log")).read()
    bad = [r for r in results if "error" in r or "authentication_results" not in r]
    ids = {r["authentication_results"].split(";")[0].strip() for r in results
           if "authentication_results" in r}
    dkim = sum(1 for r in results if r.get("dkim") and r["dkim"][0].get("result") == "pass")
    print("%d requests from %d clients during %d reloads" % (len(results), CLIENTS, RELOADS))
    check("every request answered with a verdict during the reloads (%d requests, %d not)"
          % (len(results), len(bad)), len(results) > 50 and not bad, bad[:3])
    check("each answer is the signed message's (dkim=pass in %d of %d)" % (dkim, len(results)),
          dkim == len(results), "")
    check("both configurations were in force (%s)" % sorted(ids),
          ids == {"gen0.example", "gen1.example"}, ids)
    check("every SIGHUP logged as a reload (%d)" % out.count("SIGHUP, reloaded"),
          out.count("SIGHUP, reloaded") == RELOADS, out[-600:])
    check("still running after the reloads; SIGTERM then exits 0", alive and rc == 0, rc)
    shutil.rmtree(d, ignore_errors=True)
    fx.cleanup()
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
