#include "archive/mailbox.h"

#include <zlib.h>

#include <boost/test/unit_test.hpp>

#include "temp_dir.h"
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace credence {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

std::vector<SourceItem> ReadAll(const std::string& path, SourceOptions options = {}) {
  Result<std::unique_ptr<MessageSource>> src = OpenMessageSource(path, options);
  BOOST_REQUIRE_MESSAGE(src.ok(), src.status().ToString());
  std::vector<SourceItem> items;
  SourceItem item;
  while ((*src)->Next(&item)) items.push_back(item);
  return items;
}

const char kMbox[] =
    "From alice@example.com Sat Jan  3 01:05:34 1996\n"
    "From: alice@example.com\n"
    "Subject: one\n"
    "\n"
    "body one\n"
    ">From the start\n"
    ">>From deeper\n"
    "\n"
    "From bob@example.org Sat Jan  3 01:05:35 1996\n"
    "From: bob@example.org\n"
    "\n"
    "body two\n";

BOOST_AUTO_TEST_SUITE(mailbox)

BOOST_AUTO_TEST_CASE(mboxrd_splits_and_unquotes) {
  TempDir t;
  auto items = ReadAll(t.Write("box", kMbox));
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0].name == (t.path / "box").string() + ":1");
  BOOST_TEST(items[0].envelope_from == "alice@example.com");
  BOOST_TEST(items[0].bytes ==
             "From: alice@example.com\nSubject: one\n\nbody one\nFrom the start\n>From deeper\n");
  BOOST_TEST(items[1].bytes == "From: bob@example.org\n\nbody two\n");
}

BOOST_AUTO_TEST_CASE(mboxo_unquotes_one_level_only) {
  TempDir t;
  SourceOptions o;
  o.mbox_format = MboxFormat::kMboxo;
  auto items = ReadAll(t.Write("box", kMbox), o);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0].bytes.find("\nFrom the start\n>>From deeper\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(gzip_mbox_reads_the_same) {
  TempDir t;
  std::string path = (t.path / "box.gz").string();
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, kMbox, sizeof(kMbox) - 1);
  gzclose(f);
  auto items = ReadAll(path);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[1].bytes == "From: bob@example.org\n\nbody two\n");
}

BOOST_AUTO_TEST_CASE(single_message_file) {
  TempDir t;
  auto items = ReadAll(t.Write("m.eml", "From: a@b.example\r\n\r\nhi\r\n"));
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].error.ok());
  BOOST_TEST(items[0].bytes == "From: a@b.example\r\n\r\nhi\r\n");
}

BOOST_AUTO_TEST_CASE(maildir_cur_then_new_sorted) {
  TempDir t;
  t.Write("md/new/2", "Subject: n2\n\n");
  t.Write("md/cur/b", "Subject: cb\n\n");
  t.Write("md/cur/a", "Subject: ca\n\n");
  t.Write("md/cur/.hidden", "Subject: no\n\n");
  fs::create_directories(t.path / "md/tmp");
  auto items = ReadAll((t.path / "md").string());
  BOOST_REQUIRE_EQUAL(items.size(), 3u);
  BOOST_TEST(items[0].bytes == "Subject: ca\n\n");
  BOOST_TEST(items[1].bytes == "Subject: cb\n\n");
  BOOST_TEST(items[2].bytes == "Subject: n2\n\n");
}

BOOST_AUTO_TEST_CASE(oversized_message_is_an_error_item_and_the_next_still_reads) {
  TempDir t;
  std::string big = "From x@y Mon Jan 1 00:00:00 2024\nSubject: big\n\n" + std::string(5000, 'a') +
                    "\n\nFrom z@y Mon Jan 1 00:00:00 2024\nSubject: small\n\nok\n";
  SourceOptions o;
  o.max_message_bytes = 1000;
  auto items = ReadAll(t.Write("box", big), o);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0].error.code() == StatusCode::kTooLarge);
  BOOST_TEST(items[0].bytes.empty());
  BOOST_TEST(items[1].error.ok());
  BOOST_TEST(items[1].bytes == "Subject: small\n\nok\n");
}

BOOST_AUTO_TEST_CASE(missing_file_and_non_maildir_directory_are_errors) {
  TempDir t;
  auto missing = OpenMessageSource((t.path / "nope").string());
  BOOST_TEST(!missing.ok());
  BOOST_TEST(missing.status().code() == StatusCode::kNotFound);
  fs::create_directories(t.path / "plain");
  auto dir = OpenMessageSource((t.path / "plain").string());
  BOOST_TEST(!dir.ok());
  BOOST_TEST(dir.status().message().find("not a maildir") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(blank_line_before_end_of_file_belongs_to_the_mbox) {
  // Writers end every message with a blank line, the last one too: it is not message text.
  TempDir t;
  std::string box = std::string(kMbox) + "\n";
  auto items = ReadAll(t.Write("box", box));
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[1].bytes == "From: bob@example.org\n\nbody two\n");
  auto crlf = ReadAll(
      t.Write("crlf", "From a@b Mon Jan 1 00:00:00 2024\r\nSubject: x\r\n\r\nok\r\n\r\n"));
  BOOST_REQUIRE_EQUAL(crlf.size(), 1u);
  BOOST_TEST(crlf[0].bytes == "Subject: x\r\n\r\nok\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
