/* PID 1 of a bwrap sandbox, compiled: the same job and report as reaper.py (read its docstring), without
 * a Python start (10-30 ms) in every run. Built once per worker process by services/scorer/sandbox/view.py;
 * where no C compiler is found, reaper.py runs instead. Keep the two in step: the tests run both.
 *
 *     reaper REPORT_FD PROGRAM...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static double seconds(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

int main(int argc, char **argv) {
    if (argc < 3) {
        dprintf(2, "usage: reaper REPORT_FD PROGRAM...\n");
        return 127;
    }
    int report = atoi(argv[1]);
    pid_t child = fork();
    if (child < 0) {
        dprintf(2, "sandbox could not start the program: %s\n", strerror(errno));
        return 127;
    }
    if (child == 0) {
        /* The report fd, and anything a backend let through, never reach the program. */
        if (syscall(SYS_close_range, 3U, ~0U, 0) != 0)
            for (int fd = 3; fd < 65536; fd++) close(fd);
        execv(argv[2], argv + 2);
        dprintf(2, "sandbox could not start the program: %s\n", strerror(errno));
        _exit(127);
    }
    int code = 127, status;
    double cpu = 0;
    long maxrss = 0;
    struct rusage usage;
    for (;;) {
        pid_t pid = wait4(-1, &status, 0, &usage);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break; /* ECHILD: everything is reaped */
        }
        cpu += seconds(usage.ru_utime) + seconds(usage.ru_stime);
        if (usage.ru_maxrss > maxrss) maxrss = usage.ru_maxrss;
        if (pid == child) {
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            kill(-1, SIGKILL); /* whatever the program left behind in this namespace */
        }
    }
    dprintf(report, "{\"exit-code\": %d, \"cpu\": %.6f, \"maxrss_kb\": %ld}\n", code, cpu, maxrss);
    return code;
}
