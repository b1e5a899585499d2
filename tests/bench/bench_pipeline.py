#!/usr/bin/python3
"""The whole `credence verify` pipeline against OpenSSL's ceiling on the same bytes (issue 16).

    tests/bench/run_pipeline.sh                     # builds, then runs this
    bench_pipeline.py --credence BIN --ceiling BIN [--base-credence BIN] [--work DIR]
                      [--messages 100000] [--repeat 3]

1. Corpus (make_corpus.py, cached in WORK/corpus-N): N messages of ~10.3 KB (seeded, the same
   bytes on every run), one DKIM-Signature each: rsa-sha256, RSA-2048, c=relaxed/relaxed (as
   most real mail is signed), 7 signed fields, 100 domains; mboxrd with LF line ends; a zone
   file with the 100 keys, a _dmarc record (p=none) and an SPF record per domain.
2. The ceiling (bench_ceiling): per message one SHA-256 of the canonical body, one SHA-256 of
   the canonical header block and one RSA-2048 verify, straight OpenSSL on one thread, the
   inputs prepared beforehand. Best of --repeat.
3. `credence verify --zone ZONE --at 1700000000 --format json --quiet --jobs 1 CORPUS >
   /dev/null` pinned to
   one CPU (taskset -c 0: its reader thread shares the core with the worker), then --jobs 2
   on both CPUs (--at: signature times judged at the signing time, and "evaluated_at" the
   same in every run, so that two runs' JSON can be compared): wall and CPU time (user+sys, wait4) and peak RSS (ru_maxrss, through
   tests/integration/peak_rss.py), best of --repeat each. Every DNS answer comes from the
   zone file: no resolver is asked.
   The runs are interleaved, round by round (ceiling, then each binary with --jobs 1 and 2),
   so that a host whose speed drifts (a shared virtual machine's does, by 30% within
   minutes) slows every measurement alike; each round's own ratio is printed too, and their
   spread says how far the best-of figures can be trusted.
4. One JSON run to a file (WORK/out-LABEL.json) checks that every message passed DKIM; with
   --base-credence both binaries run in the same session and their JSON is compared byte for
   byte (`cmp`).

Prints, per binary: messages/s and messages per CPU-second for --jobs 1 and 2, the ratio
credence/ceiling (wall, and CPU), the --jobs 2 speed-up and the peak RSS. Exits 1 when a
message fails DKIM, the ceiling loop fails, or the two binaries' JSON differ.
"""
import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from peak_rss import run as run_with_peak_rss  # noqa: E402


def log(msg):
    print(msg, flush=True)


def make_corpus(work, messages):
    """WORK/corpus-N/{corpus.mbox,bench.zone}, made once (signing 100,000 messages takes
    minutes); keys shared in WORK/keys."""
    out = os.path.join(work, "corpus-%d" % messages)
    stamp = os.path.join(out, "stamp")
    if os.path.exists(stamp):
        return out
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make_corpus.py"), out,
                    "--messages", str(messages), "--no-eml",
                    "--key-cache", os.path.join(work, "keys")], check=True)
    with open(stamp, "w") as f:
        f.write("made in %.0f s\n" % (time.time() - t0))
    return out


def ceiling(binary, corpus, repeat):
    r = subprocess.run([binary, os.path.join(corpus, "corpus.mbox"),
                        os.path.join(corpus, "bench.zone"), "--repeat", str(repeat)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench_ceiling failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    f = r.stdout.split()  # ceiling N messages WALL s CPU s RATE
    return {"messages": int(f[1]), "seconds": float(f[3]), "cpu_seconds": float(f[5])}


def credence_argv(binary, corpus, jobs):
    pin = ["taskset", "-c", "0"] if jobs == 1 and shutil.which("taskset") else []
    return pin + [binary, "verify", "--zone", os.path.join(corpus, "bench.zone"),
                  "--at", "1700000000", "--format", "json", "--quiet", "--jobs", str(jobs),
                  os.path.join(corpus, "corpus.mbox")]


def check_output(binary, corpus, path):
    """One run with the JSON kept; every line must carry a DKIM pass."""
    with open(path, "wb") as out:
        r = subprocess.run(credence_argv(binary, corpus, 1), stdout=out,
                           stderr=subprocess.PIPE)
    if r.returncode not in (0, 1):
        raise SystemExit("credence failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    passes = total = 0
    with open(path, "rb") as f:
        for line in f:
            total += 1
            obj = json.loads(line)
            passes += any(s.get("result") == "pass" for s in obj.get("dkim", []))
    return passes, total


def timed_once(argv):
    """Wall and CPU seconds and peak RSS of one run, output to /dev/null."""
    with open(os.devnull, "wb") as null:
        r = run_with_peak_rss(argv, stdin=subprocess.DEVNULL, stdout=null, stderr=subprocess.PIPE)
    if r.returncode not in (0, 1):
        raise SystemExit("credence failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    return {"seconds": r.seconds, "cpu_seconds": r.cpu_seconds, "max_rss_kib": r.max_rss_kib}


def best(runs):
    """Best wall and CPU seconds of `runs`, and the largest peak RSS."""
    return {"seconds": min(r["seconds"] for r in runs),
            "cpu_seconds": min(r["cpu_seconds"] for r in runs),
            "max_rss_kib": max(r["max_rss_kib"] for r in runs)}


def report(label, runs, ceil_rounds, n):
    """Prints and returns one binary's figures from its rounds (`runs`: one dict per round
    with "jobs1" and "jobs2") against the ceiling's rounds."""
    ceil = {"seconds": min(c["seconds"] for c in ceil_rounds),
            "cpu_seconds": min(c["cpu_seconds"] for c in ceil_rounds)}
    one = best([r["jobs1"] for r in runs])
    two = best([r["jobs2"] for r in runs])
    ceil_rate = n / ceil["seconds"]
    ceil_cpu_rate = n / ceil["cpu_seconds"]
    rate1, cpu1 = n / one["seconds"], n / one["cpu_seconds"]
    rate2, cpu2 = n / two["seconds"], n / two["cpu_seconds"]
    log("%s --jobs 1: %.2f s wall, %.2f s CPU: %.0f msg/s, %.0f msg per CPU-s; peak RSS %.1f MB"
        % (label, one["seconds"], one["cpu_seconds"], rate1, cpu1, one["max_rss_kib"] / 1024))
    log("%s --jobs 2: %.2f s wall, %.2f s CPU: %.0f msg/s, %.0f msg per CPU-s; peak RSS %.1f MB"
        % (label, two["seconds"], two["cpu_seconds"], rate2, cpu2, two["max_rss_kib"] / 1024))
    log("%s ratio credence/ceiling: %.3f (wall, --jobs 1 on one CPU), %.3f (CPU); "
        "--jobs 2 speed-up %.2f" % (label, rate1 / ceil_rate, cpu1 / ceil_cpu_rate,
                                   one["seconds"] / two["seconds"]))
    per_round = [c["cpu_seconds"] / r["jobs1"]["cpu_seconds"] for c, r in zip(ceil_rounds, runs)]
    log("%s ratio (CPU) in each round: %s" % (label, " ".join("%.3f" % x for x in per_round)))
    return {"jobs1": one, "jobs2": two, "ratio_wall": rate1 / ceil_rate,
            "ratio_cpu": cpu1 / ceil_cpu_rate, "speedup": one["seconds"] / two["seconds"],
            "ratio_cpu_rounds": per_round}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--credence", required=True)
    ap.add_argument("--ceiling", required=True, help="the bench_ceiling binary")
    ap.add_argument("--base-credence", help="a second build (e.g. of main) measured alongside")
    ap.add_argument("--work", default="/tmp/credence-pipeline")
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    log("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    corpus = make_corpus(args.work, args.messages)
    size = os.path.getsize(os.path.join(corpus, "corpus.mbox"))
    log("corpus: %d messages, %.0f MB mbox (%s)" % (args.messages, size / 1e6, corpus))
    runs = [("base", args.base_credence)] if args.base_credence else []
    runs.append(("credence", args.credence))
    for label, binary in runs:
        passes, total = check_output(binary, corpus, os.path.join(args.work, "out-%s.json" % label))
        log("%s: %d/%d messages pass DKIM" % (label, passes, total))
        if passes != args.messages or total != args.messages:
            raise SystemExit("%s: not every message passed (%d/%d of %d)" %
                             (label, passes, total, args.messages))
    ceil_rounds = []
    rounds = {label: [] for label, _ in runs}
    for k in range(args.repeat):
        ceil = ceiling(args.ceiling, corpus, 1)
        if ceil["messages"] != args.messages:
            raise SystemExit("bench_ceiling read %d messages" % ceil["messages"])
        ceil_rounds.append(ceil)
        for label, binary in runs:
            rounds[label].append({"jobs1": timed_once(credence_argv(binary, corpus, 1)),
                                  "jobs2": timed_once(credence_argv(binary, corpus, 2))})
        log("round %d of %d: ceiling %.2f s CPU, %s" % (
            k + 1, args.repeat, ceil["cpu_seconds"],
            ", ".join("%s %.2f s CPU" % (label, rounds[label][-1]["jobs1"]["cpu_seconds"])
                      for label, _ in runs)))
    best_ceil = min(c["cpu_seconds"] for c in ceil_rounds)
    log("OpenSSL ceiling: %.2f s wall, %.2f s CPU: %.0f msg/s, %.0f msg per CPU-s" % (
        min(c["seconds"] for c in ceil_rounds), best_ceil,
        args.messages / min(c["seconds"] for c in ceil_rounds), args.messages / best_ceil))
    results = {}
    for label, _ in runs:
        results[label] = report(label, rounds[label], ceil_rounds, args.messages)
    status = 0
    if args.base_credence:
        same = filecmp.cmp(os.path.join(args.work, "out-base.json"),
                           os.path.join(args.work, "out-credence.json"), shallow=False)
        log("JSON output of base and credence byte-identical: %s" % ("yes" if same else "NO"))
        status = 0 if same else 1
    log("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    return status


if __name__ == "__main__":
    sys.exit(main())
