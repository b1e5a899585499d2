// tool_rusage OUT COMMAND [ARGS...]: runs COMMAND (stdout and stderr inherited), waits for it and
// writes to OUT one JSON object: {"status": exit status or -signal, "wall_s", "user_s", "sys_s",
// "max_rss_kb"}. Exits 0 when it could run the command.
//
// Why a program of its own: Linux keeps a process's peak RSS across fork and exec (the kernel
// records the old address space's high-water mark at exec), so a child started straight from a
// large test process (Python holding a 65 MB message) reports the parent's size. This tool is
// small, and fork()s the command from its own small address space, so ru_maxrss is the
// command's own.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    std::perror("exec");
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) < 0) {
    std::perror("wait4");
    return 2;
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  FILE* out = std::fopen(argv[1], "w");
  if (out == nullptr) {
    std::perror(argv[1]);
    return 2;
  }
  std::fprintf(out,
               "{\"status\": %d, \"wall_s\": %.6f, \"user_s\": %.6f, \"sys_s\": %.6f, "
               "\"max_rss_kb\": %ld}\n",
               code, wall, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
  std::fclose(out);
  return 0;
}
