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

// A started sendmail: its pid, the write end of its stdin and the read end of its stderr.
struct Child {
  pid_t pid = -1;
  int in_fd = -1;
  int err_fd = -1;
};

Result<Child> Spawn(const std::string& sendmail, const std::string& from, const std::string& to) {
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
  Child child;
  int rc = posix_spawn(&child.pid, sendmail.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(err[0]);
    return Status::IoError(sendmail + ": cannot run: " + std::strerror(rc));
  }
  child.in_fd = in[1];
  child.err_fd = err[0];
  ::fcntl(child.in_fd, F_SETFL, O_NONBLOCK);
  ::fcntl(child.err_fd, F_SETFL, O_NONBLOCK);
  return child;
}

// What went over the pipes: bytes of the message written, the start of sendmail's stderr.
struct Exchange {
  size_t written = 0;
  std::string err_text;  // at most ~4 KiB
  bool timed_out = false;
};

// Writes `data` to the child's stdin and reads its stderr until both are done or the deadline
// passes; closes both pipes.
Exchange Talk(Child& child, std::string_view data, std::chrono::steady_clock::time_point deadline) {
  Exchange x;
  if (data.empty()) {
    ::close(child.in_fd);
    child.in_fd = -1;
  }
  while (child.in_fd >= 0 || child.err_fd >= 0) {
    int64_t left = MsLeft(deadline);
    if (left <= 0) {
      x.timed_out = true;
      break;
    }
    pollfd p[2] = {{child.in_fd, POLLOUT, 0}, {child.err_fd, POLLIN, 0}};
    int n = ::poll(p, 2, static_cast<int>(left));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (child.in_fd >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(child.in_fd, data.data() + x.written, data.size() - x.written);
      if (w > 0) x.written += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || x.written == data.size()) {
        ::close(child.in_fd);
        child.in_fd = -1;
      }
    }
    if (child.err_fd >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
      char buf[512];
      ssize_t r = ::read(child.err_fd, buf, sizeof buf);
      if (r > 0 && x.err_text.size() < 4096) x.err_text.append(buf, static_cast<size_t>(r));
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        ::close(child.err_fd);
        child.err_fd = -1;
      }
    }
  }
  if (child.in_fd >= 0) ::close(child.in_fd);
  if (child.err_fd >= 0) ::close(child.err_fd);
  child.in_fd = child.err_fd = -1;
  return x;
}

// Waits for the child until the deadline (*timed_out already set: not at all), then kills it.
// Its wait status.
int Reap(const Child& child, std::chrono::steady_clock::time_point deadline, bool* timed_out) {
  int status = 0;
  while (!*timed_out) {
    pid_t w = ::waitpid(child.pid, &status, WNOHANG);
    if (w == child.pid) break;
    if (w < 0 && errno != EINTR) break;
    if (MsLeft(deadline) <= 0) {
      *timed_out = true;
      break;
    }
    ::usleep(10000);
  }
  if (*timed_out) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, &status, 0);
  }
  return status;
}

}  // namespace

Status SendWithSendmail(const std::string& sendmail, const std::string& from, const std::string& to,
                        std::string_view message, std::chrono::milliseconds timeout) {
  Result<Child> child = Spawn(sendmail, from, to);
  if (!child.ok()) return child.status();
  // SIGPIPE would kill us when sendmail exits early; a failed write is reported instead.
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  const std::string data = LfLines(message);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Exchange x = Talk(*child, data, deadline);
  int status = Reap(*child, deadline, &x.timed_out);
  sigaction(SIGPIPE, &old, nullptr);
  if (x.timed_out) {
    return Status::IoError(sendmail + ": did not finish within " + std::to_string(timeout.count()) +
                           " ms (killed)");
  }
  std::string first = x.err_text.substr(0, x.err_text.find('\n'));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string why = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                        : "killed by signal " + std::to_string(WTERMSIG(status));
    return Status::IoError(sendmail + ": " + why + (first.empty() ? "" : ": " + first));
  }
  if (x.written != data.size()) return Status::IoError(sendmail + ": did not read the whole message");
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
