// ReadRegularFile (credence/file.h): what the zone files, the configuration and `check
// --message` are read with. Only a regular file, bounded, refused at once otherwise; and
// LoadConfigFile through it.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "credence/file.h"
#include "credence/policy/config.h"
#include "temp_dir.h"

namespace credence {
namespace {

using testing::TempDir;

BOOST_AUTO_TEST_SUITE(file)

BOOST_AUTO_TEST_CASE(reads_a_regular_file_whole) {
  TempDir t;
  std::string text = "left over";
  BOOST_TEST(ReadRegularFile(t.Write("a", "abc\n"), "zone file", 100, &text).ok());
  BOOST_TEST(text == "abc\n");
  BOOST_TEST(ReadRegularFile(t.Write("empty", ""), "zone file", 100, &text).ok());
  BOOST_TEST(text.empty());
  BOOST_TEST(ReadRegularFile(t.Write("limit", std::string(100, 'x')), "zone file", 100, &text).ok());
  BOOST_TEST(text.size() == 100u);
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_a_regular_file_at_once) {
  TempDir t;
  std::string text;
  const std::string dir = t.path.string();
  Status s = ReadRegularFile(dir, "configuration file", 100, &text);
  BOOST_TEST(s.message() == "configuration file '" + dir + "' is not a regular file");
  const std::string fifo = (t.path / "fifo").string();
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  s = ReadRegularFile(fifo, "message file", 100, &text);  // no writer: must not wait
  BOOST_TEST(s.message() == "message file '" + fifo + "' is not a regular file");
  s = ReadRegularFile("/dev/zero", "zone file", 100, &text);
  BOOST_TEST(s.message() == "zone file '/dev/zero' is not a regular file");
  s = ReadRegularFile((t.path / "missing").string(), "zone file", 100, &text);
  BOOST_TEST(s.message().find("cannot open zone file '") == 0);
  BOOST_TEST(s.message().find("No such file or directory") != std::string::npos);
  s = ReadRegularFile(t.Write("big", std::string(101, 'x')), "zone file", 100, &text);
  BOOST_TEST(s.message().find("has 101 bytes, more than the 100 bytes a zone file may have") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(limits_read_as_people_say_them) {
  BOOST_TEST(BytesText(64u << 20) == "64 MiB");
  BOOST_TEST(BytesText(4096) == "4 KiB");
  BOOST_TEST(BytesText(1000) == "1000 bytes");
  BOOST_TEST(BytesText((1u << 20) + 1024) == "1025 KiB");
}

// A directory or a FIFO named as the configuration is an error, never an empty configuration
// (the defaults silently) nor a wait; the Exim shim reads its configuration the same way.
BOOST_AUTO_TEST_CASE(config_file_must_be_a_regular_file) {
  TempDir t;
  Result<Config> dir = LoadConfigFile(t.path.string());
  BOOST_TEST(!dir.ok());
  BOOST_TEST(dir.status().message().find("is not a regular file") != std::string::npos);
  const std::string fifo = (t.path / "credence.toml").string();
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  BOOST_TEST(!LoadConfigFile(fifo).ok());
  BOOST_TEST(LoadConfigFile(t.Write("ok.toml", "authserv_id = \"mx.example\"\n")).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
