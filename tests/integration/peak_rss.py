#!/usr/bin/python3
"""Peak resident set size and CPU time of a program, measured without /usr/bin/time (Debian
package `time`, absent from a minimal Debian). test_archive.py and tests/bench/benchmarks.py
use it:

    r = peak_rss.run(argv, stdout=subprocess.PIPE, timeout=300)
    r.returncode, r.stdout, r.stderr, r.max_rss_kib, r.cpu_seconds, r.seconds

Why a helper process and not os.wait4 on a direct child: Linux keeps a process's peak RSS
(ru_maxrss) across execve, and a child that subprocess starts with vfork shares this Python
process's memory until it execs, so wait4 reports max(this process's own peak, the program's):
a Python process that had once touched 300 MB started /bin/true, and wait4 said 318048 KiB. A
child made with fork starts from the parent's resident memory instead, still the whole test.
So a fresh `python3 -S` running this file (importing only os, signal and sys) forks the
program, waits for it with os.wait4 and writes the program's rusage to a pipe.

The floor: what the forked interpreter had resident counts too, about 6.6 MB with Debian 12's
python3: /bin/true reads 6.6 MB here (1.1 MB under GNU time). Above it the two agree:
`credence --version` 6.6 MB both ways, a program touching 100 MB 115780 KiB here and 115800
KiB under GNU time. A reading at the floor means "at most that".
"""
import os
import signal
import sys

# subprocess and time are imported inside run(): the helper stays small (see the floor).


class Result:
    """What run() measured. returncode as subprocess has it (negative: killed by that signal;
    127: argv[0] could not be run); stdout/stderr bytes when PIPE, else None; max_rss_kib the
    program's peak RSS; cpu_seconds its user + system time; seconds the wall time."""

    def __init__(self, returncode, stdout, stderr, max_rss_kib, cpu_seconds, seconds):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.max_rss_kib = max_rss_kib
        self.cpu_seconds = cpu_seconds
        self.seconds = seconds

    def __repr__(self):
        return "Result(returncode=%d, max_rss_kib=%d, cpu_seconds=%.3f, seconds=%.3f)" % (
            self.returncode, self.max_rss_kib, self.cpu_seconds, self.seconds)


def run(argv, stdin=None, stdout=None, stderr=None, timeout=None):
    """Runs argv to its end and returns a Result. stdin, stdout and stderr are as for
    subprocess.Popen. On timeout the program is killed and subprocess.TimeoutExpired raised.
    RuntimeError when the helper itself failed (no report)."""
    import subprocess
    import time
    read_end, write_end = os.pipe()
    try:
        start = time.monotonic()
        helper = subprocess.Popen([sys.executable, "-S", os.path.abspath(__file__), str(write_end),
                                   "--"] + list(argv),
                                  stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=(write_end,))
        os.close(write_end)
        write_end = -1
        try:
            out, err = helper.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            helper.terminate()  # the helper kills the program, then exits
            helper.communicate()
            raise
        seconds = time.monotonic() - start
        report = b""
        while True:
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            report += chunk
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    fields = report.split()
    if len(fields) != 3:
        raise RuntimeError("peak_rss helper exited %s with report %r" % (helper.returncode, report))
    return Result(int(fields[0]), out, err, int(fields[1]), float(fields[2]), seconds)


def _helper(report_fd, argv):
    """Forks argv (with this process's stdin, stdout and stderr), waits for it, writes
    "returncode max_rss_kib cpu_seconds" to report_fd (which the program does not inherit)."""
    os.set_inheritable(report_fd, False)
    # A SIGTERM from run() on timeout is passed on to the program as SIGKILL. The child keeps
    # the handler until its exec, with no pid to pass it to.
    child = [0]

    def on_term(*_):
        if child[0] > 0:
            os.kill(child[0], signal.SIGKILL)
    signal.signal(signal.SIGTERM, on_term)
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(2, ("peak_rss: cannot run %s: %s\n" % (argv[0], e.strerror)).encode())
        os._exit(127)
    child[0] = pid
    # A terminal's Ctrl-C reaches the program itself; this process waits for it to end. wait4
    # is retried after a signal (PEP 475).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _, status, usage = os.wait4(pid, 0)
    os.write(report_fd, b"%d %d %.6f\n" % (os.waitstatus_to_exitcode(status), usage.ru_maxrss,
                                            usage.ru_utime + usage.ru_stime))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.stderr.write("usage: peak_rss.py REPORT_FD -- PROGRAM [ARGS...] (see run())\n")
        sys.exit(2)
    sys.exit(_helper(int(sys.argv[1]), sys.argv[3:]))
