#include "report_delivery.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace credence::cli {
namespace {

std::string LfLines(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
    out += message[i];
  }
  return out;
}

int64_t MsLeft(std::chrono::steady_clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                               std::chrono::steady_clock::now())
      .count();
}

}  // namespace

Status SendWithSendmail(const std::string& sendmail, const std::string& from, const std::string& to,
                        std::string_view message, std::chrono::milliseconds timeout) {
  int in[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Status::IoError(std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return Status::IoError(std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<std::string> args = {sendmail, "-oi", "-f", from, "--", to};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, sendmail.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(err[0]);
    return Status::IoError(sendmail + ": cannot run: " + std::strerror(rc));
  }
  // SIGPIPE would kill us when sendmail exits early; a failed write is reported instead.
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  std::string data = LfLines(message);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t done = 0;
  std::string err_text;
  bool timed_out = false;
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  int in_fd = in[1];
  int err_fd = err[0];
  if (data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  while (in_fd >= 0 || err_fd >= 0) {
    int64_t left = MsLeft(deadline);
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[2] = {{in_fd, POLLOUT, 0}, {err_fd, POLLIN, 0}};
    int n = ::poll(p, 2, static_cast<int>(left));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (in_fd >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(in_fd, data.data() + done, data.size() - done);
      if (w > 0) done += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || done == data.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
    if (err_fd >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
      char buf[512];
      ssize_t r = ::read(err_fd, buf, sizeof buf);
      if (r > 0 && err_text.size() < 4096) err_text.append(buf, static_cast<size_t>(r));
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        ::close(err_fd);
        err_fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  if (err_fd >= 0) ::close(err_fd);
  int status = 0;
  while (!timed_out) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (MsLeft(deadline) <= 0) {
      timed_out = true;
      break;
    }
    ::usleep(10000);
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  sigaction(SIGPIPE, &old, nullptr);
  if (timed_out) {
    return Status::IoError(sendmail + ": did not finish within " + std::to_string(timeout.count()) +
                           " ms (killed)");
  }
  std::string first = err_text.substr(0, err_text.find('\n'));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string why = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                        : "killed by signal " + std::to_string(WTERMSIG(status));
    return Status::IoError(sendmail + ": " + why + (first.empty() ? "" : ": " + first));
  }
  if (done != data.size()) return Status::IoError(sendmail + ": did not read the whole message");
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& dir, const std::string& name, std::string_view data) {
  std::string path = dir + "/" + name;
  std::string tmp = dir + "/." + name + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IoError(dir + ": " + std::strerror(errno));
  ::fchmod(fd, 0644);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IoError(path + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::IoError(path + ": " + why);
  }
  return Status::Ok();
}

}  // namespace credence::cli
