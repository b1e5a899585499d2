// The `credence serve` engine with a fake handler: the socket file (mode, group, what is left
// behind, a symlink race), the TCP listener on loopback and listen addresses.
#include "serve_fixture.h"

namespace credence::serve {
namespace {

using namespace testing;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(serve_listener)

BOOST_AUTO_TEST_CASE(socket_file_rules) {
  Fixture fx;
  // A stale socket file (nobody listening) is replaced.
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", fx.SocketPath().c_str());
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  auto server = fx.Start(ServerOptions());
  // A live one is not.
  ServerOptions o;
  o.socket_path = fx.SocketPath();
  auto second = Server::Start(o, [] { return Result<std::unique_ptr<RequestHandler>>(nullptr); });
  BOOST_TEST(!second.ok());
  BOOST_TEST(second.status().message().find("in use") != std::string::npos);
  // Neither is a regular file.
  std::string file = (fx.dir / "plain").string();
  ::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  o.socket_path = file;
  auto third = Server::Start(o, [] { return Result<std::unique_ptr<RequestHandler>>(nullptr); });
  BOOST_TEST(!third.ok());
  BOOST_TEST(std::filesystem::is_regular_file(file));
  // Too long for sockaddr_un.
  o.socket_path = "/tmp/" + std::string(200, 'x');
  auto fourth = Server::Start(o, [] { return Result<std::unique_ptr<RequestHandler>>(nullptr); });
  BOOST_TEST((!fourth.ok() && fourth.status().code() == StatusCode::kInvalidInput));
  // A path that fits, in a directory too long for the private directory next to it.
  std::string deep = "/tmp/" + std::string(90, 'd') + "/s";
  BOOST_TEST(deep.size() < 107u);
  Result<int> fifth = ListenUnix(deep, 0600, "");
  BOOST_TEST((!fifth.ok() && fifth.status().code() == StatusCode::kInvalidInput));
  BOOST_TEST(fifth.status().message().find("directory") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(socket_file_mode_group_and_what_is_left_behind) {
  Fixture fx;
  const std::string path = fx.SocketPath();
  // A symlink where the socket goes is refused, and its target is left alone.
  const std::string victim = (fx.dir / "victim").string();
  ::close(::open(victim.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  BOOST_TEST_REQUIRE(::symlink(victim.c_str(), path.c_str()) == 0);
  Result<int> refused = ListenUnix(path, 0666, "");
  BOOST_TEST(!refused.ok());
  struct stat st;
  BOOST_TEST_REQUIRE(::stat(victim.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
  ::unlink(path.c_str());
  // Mode through the umask (whatever the process umask is), group by lchown.
  struct group* gr = ::getgrnam("nogroup");
  std::string group = gr != nullptr ? "nogroup" : "";
  mode_t old_umask = ::umask(0077);
  SocketFile created;
  Result<int> fd = ListenUnix(path, 0666, group, &created);
  ::umask(old_umask);
  BOOST_TEST_REQUIRE(fd.ok(), fd.status().ToString());
  BOOST_TEST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  BOOST_TEST(S_ISSOCK(st.st_mode));
  BOOST_TEST((st.st_mode & 07777) == 0666u);
  if (gr != nullptr) BOOST_TEST(st.st_gid == gr->gr_gid);
  BOOST_TEST(st.st_ino == created.ino);
  // Only the socket and the victim: the private directory is gone.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(fx.dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  BOOST_TEST((names == std::vector<std::string>{"s.sock", "victim"}));
  // A file that replaced ours is not removed at shutdown.
  ::close(*fd);
  ::unlink(path.c_str());
  ::close(::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  RemoveSocketFile(created);
  BOOST_TEST(std::filesystem::exists(path));
}

// The socket's directory is writable by someone else, who swaps the socket file for a symlink
// to a file of ours the moment it appears. Whatever ListenUnix does after bind() must not reach
// the symlink's target: its mode and group stay as they were.
BOOST_AUTO_TEST_CASE(socket_file_symlink_race_touches_nothing_outside) {
  Fixture fx;
  const std::string path = fx.SocketPath();
  const std::string victim = (fx.dir / "victim").string();
  const std::string link_tmp = (fx.dir / "link.tmp").string();
  ::close(::open(victim.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  BOOST_TEST_REQUIRE(::chmod(victim.c_str(), 0600) == 0);
  struct stat orig;
  BOOST_TEST_REQUIRE(::stat(victim.c_str(), &orig) == 0);
  // A group other than the victim's, so a chown through the symlink would show.
  std::string group;
  for (const char* g : {"nogroup", "nobody", "daemon", "users"}) {
    struct group* gr = ::getgrnam(g);
    if (gr != nullptr && gr->gr_gid != orig.st_gid) {
      group = g;
      break;
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread racer([&] {
    struct stat st;
    while (!stop.load(std::memory_order_relaxed)) {
      if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
        ::unlink(link_tmp.c_str());
        if (::symlink(victim.c_str(), link_tmp.c_str()) == 0 &&
            ::rename(link_tmp.c_str(), path.c_str()) == 0) {
          ++swaps;
        }
      }
    }
  });
  int iterations = 0, bound = 0, hits = 0;
  auto t0 = SteadyClock::now();
  while (SteadyClock::now() - t0 < 1500ms) {
    ++iterations;
    Result<int> fd = ListenUnix(path, 0666, group);
    if (fd.ok()) {
      ++bound;
      ::close(*fd);
    }
    struct stat now;
    BOOST_TEST_REQUIRE(::stat(victim.c_str(), &now) == 0);
    if ((now.st_mode & 07777) != 0600 || now.st_gid != orig.st_gid) {
      ++hits;
      ::chmod(victim.c_str(), 0600);
      [[maybe_unused]] int rc = ::chown(victim.c_str(), static_cast<uid_t>(-1), orig.st_gid);
    }
    ::unlink(path.c_str());
  }
  stop = true;
  racer.join();
  BOOST_TEST_MESSAGE("socket symlink race: " << iterations << " binds tried, " << bound
                                             << " bound, " << swaps.load()
                                             << " socket files swapped for a symlink, " << hits
                                             << " times the symlink's target was changed"
                                             << (group.empty() ? "" : " (group " + group + ")"));
  BOOST_TEST(swaps.load() > 0);  // the race was run
  BOOST_TEST(hits == 0);
}

BOOST_AUTO_TEST_CASE(factory_error_leaves_no_socket) {
  Fixture fx;
  ServerOptions o;
  o.socket_path = fx.SocketPath();
  auto r = Server::Start(o, [] {
    return Result<std::unique_ptr<RequestHandler>>(Status::Invalid("bad authserv-id"));
  });
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.status().message() == "bad authserv-id");
  BOOST_TEST(!std::filesystem::exists(fx.SocketPath()));
}

BOOST_AUTO_TEST_CASE(tcp_listener_on_loopback) {
  Fixture fx;
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  auto server = fx.Start(o);
  BOOST_TEST_REQUIRE(server->tcp_port() != 0);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server->tcp_port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_TEST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  SendAll(fd, Verify("tcp!"));
  Result<std::string> r = UnframeResponse(ReadToEof(fd));
  ::close(fd);
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST(nlohmann::json::parse(*r)["length"].get<int>() == 4);
}

BOOST_AUTO_TEST_CASE(listeners_open_both_and_close_removes_the_socket_file) {
  Fixture fx;
  {
    Listeners l;
    BOOST_TEST_REQUIRE(l.Open("127.0.0.1:0", fx.SocketPath(), 0660, "").ok());
    BOOST_TEST(l.tcp_fd >= 0);
    BOOST_TEST(l.unix_fd >= 0);
    BOOST_TEST(l.tcp_port != 0);
    int fd = ConnectTcp(l.tcp_port);
    BOOST_TEST(fd >= 0);
    if (fd >= 0) ::close(fd);
    BOOST_TEST(std::filesystem::exists(fx.SocketPath()));
    l.Close();
    l.Close();  // idempotent
    BOOST_TEST(l.unix_fd == -1);
    BOOST_TEST(l.tcp_fd == -1);
    BOOST_TEST(!std::filesystem::exists(fx.SocketPath()));
    BOOST_TEST(ConnectTcp(l.tcp_port) == -1);
  }
  // A bad address opens nothing; only what is named is opened.
  Listeners bad;
  BOOST_TEST(!bad.Open("localhost:25", fx.SocketPath(), 0660, "").ok());
  BOOST_TEST(bad.tcp_fd == -1);
  BOOST_TEST(bad.unix_fd == -1);
  Listeners unix_only;
  BOOST_TEST_REQUIRE(unix_only.Open("", fx.SocketPath(), 0660, "").ok());
  BOOST_TEST(unix_only.tcp_fd == -1);
  BOOST_TEST(unix_only.tcp_port == 0);
  unix_only.Close();
}

BOOST_AUTO_TEST_CASE(listen_address_parsing) {
  std::string host;
  uint16_t port = 0;
  BOOST_TEST(ParseListenAddress("127.0.0.1:11400", &host, &port).ok());
  BOOST_TEST(host == "127.0.0.1");
  BOOST_TEST(port == 11400);
  BOOST_TEST(ParseListenAddress("[::1]:0", &host, &port).ok());
  BOOST_TEST(host == "::1");
  for (std::string_view bad : {"", "127.0.0.1", "localhost:25", "127.0.0.1:", "127.0.0.1:70000",
                               "::1:25", "[::1]", "[::1]25", "1.2.3.4:5x"}) {
    BOOST_TEST(!ParseListenAddress(bad, &host, &port).ok(), bad);
  }
}
BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence::serve
