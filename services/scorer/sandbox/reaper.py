"""PID 1 of every sandbox: starts the program, reaps what it leaves, and reports its exit and usage to the host.

    python -I -S -B reaper.py REPORT_FD PROGRAM...

Runs before the drop chain, as root inside the namespaces, with nothing but the standard library. Why it
exists: the host's own wait4 would report the peak memory of its forked copy of the host process, not the
program's, and bwrap's init reports no usage at all. When the program exits, the reaper kills everything
left in the PID namespace (kill(-1) reaches only this namespace) and reaps it, so the report covers every
process the run started, and nothing outlives it. The report is one JSON line on REPORT_FD, which the
program never holds: {"exit-code": N (128 + signal), "cpu": seconds, "maxrss_kb": largest peak RSS}.
"""

from __future__ import annotations

import os
import signal
import sys


def reap(argv: list[str], report_fd: int) -> int:
    child = os.fork()
    if child == 0:
        os.closerange(3, 65536)  # the report fd, and anything a backend let through
        try:
            os.execv(argv[0], argv)  # noqa: S606  argv, no shell
        except OSError as error:
            os.write(2, f"sandbox could not start the program: {error}\n".encode())
        os._exit(127)
    code = None
    cpu = 0.0
    maxrss = 0
    while True:
        try:
            pid, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        cpu += usage.ru_utime + usage.ru_stime
        maxrss = max(maxrss, usage.ru_maxrss)
        if pid == child:
            exit_code = os.waitstatus_to_exitcode(status)
            code = 128 - exit_code if exit_code < 0 else exit_code
            try:
                os.kill(-1, signal.SIGKILL)  # whatever the program left behind in this namespace
            except ProcessLookupError:
                pass
    if code is None:
        code = 127
    os.write(report_fd, f'{{"exit-code": {code}, "cpu": {cpu!r}, "maxrss_kb": {maxrss}}}\n'.encode())
    return code


if __name__ == "__main__":
    os._exit(reap(sys.argv[2:], int(sys.argv[1])))
