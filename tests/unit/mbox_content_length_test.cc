// --mbox-format cl: messages split by their Content-Length (mutt's mbox, no '>From '
// quoting), and what happens when a Content-Length does not land on a separator
// (plugin/archive/mbox_content_length.cc).
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "archive/mailbox.h"
#include "mbox_split_fixture.h"

namespace credence {
namespace {

using testing::Split;

BOOST_AUTO_TEST_SUITE(mbox_content_length)

std::string ClMessage(const std::string& header, const std::string& body) {
  return "From a@example.org Tue Nov 14 22:13:20 2023\n" + header + "Content-Length: " +
         std::to_string(body.size()) + "\n\n" + body + "\n";
}

std::string Notices(const std::vector<SourceItem>& items) {
  std::string s;
  for (const SourceItem& i : items) {
    if (!i.notice.empty()) s += i.name + ": " + i.notice + "\n";
  }
  return s;
}

std::vector<SourceItem> MessagesOnly(const std::vector<SourceItem>& items) {
  std::vector<SourceItem> out;
  for (const SourceItem& i : items) {
    if (i.notice.empty()) out.push_back(i);
  }
  return out;
}

BOOST_AUTO_TEST_CASE(content_length_reads_unquoted_from_lines_in_the_body) {
  const std::string body1 = "Hello\n\nFrom the start of a line\n>From stays as is\n";
  const std::string mbox = ClMessage("Subject: one\n", body1) + ClMessage("Subject: two\n", "x\n");
  SourceOptions o;
  o.mbox_format = MboxFormat::kContentLength;
  for (size_t chunk : {1, 3, 7, 64, 1 << 20}) {
    auto items = Split(mbox, chunk, o);
    auto messages = MessagesOnly(items);
    BOOST_REQUIRE_EQUAL(messages.size(), 2u);
    BOOST_TEST(messages[0].bytes == "Subject: one\nContent-Length: " +
                                        std::to_string(body1.size()) + "\n\n" + body1);
    BOOST_TEST(messages[1].bytes == "Subject: two\nContent-Length: 2\n\nx\n");
    BOOST_TEST(messages[0].envelope_from == "a@example.org");
    // The "From " line after an empty line is told, not hidden.
    BOOST_TEST(Notices(items) == "box:1: its Content-Length " + std::to_string(body1.size()) +
                                     " holds 1 line that looks like the start of another mbox "
                                     "message ('From ' after an empty line): read as one "
                                     "message, as the Content-Length says\n");
  }
  // Read as mboxrd, the same file is split at the body's "From " line, and said once.
  auto rd = Split(mbox, 64);
  BOOST_TEST(MessagesOnly(rd).size() == 3u);
  BOOST_TEST(Notices(rd) == "box:1: its Content-Length " + std::to_string(body1.size()) +
                                " runs past the 'From ' line that ends it here (after 7 body "
                                "bytes): the file looks like a Content-Length mbox (as mutt and "
                                "Dovecot write): --mbox-format cl reads it\n");
}

BOOST_AUTO_TEST_CASE(content_length_that_does_not_land_falls_back_and_says_so) {
  SourceOptions o;
  o.mbox_format = MboxFormat::kContentLength;
  // Too short, too long (past the end), missing, hostile (swallowing the next message but not
  // landing), over the limit.
  const std::string good = ClMessage("Subject: two\n", "x\n");
  struct Case {
    std::string mbox, notice;
  } cases[] = {
      {"From a\nContent-Length: 3\n\nbody\n\n" + good,
       "box:1: its Content-Length 3 does not land on the next message's 'From ' line or the "
       "end of the file: split at the next 'From ' line\n"},
      {"From a\nContent-Length: 99999\n\nbody\n",
       "box:1: its Content-Length 99999 runs past the end of the file (5 body bytes left): "
       "split at the next 'From ' line\n"},
      {"From a\nSubject: none\n\nbody\n\n" + good,
       "box:1: no Content-Length field (or not one number): split at the next 'From ' line\n"},
      {"From a\nContent-Length: 20\n\nbody\n\n" + good,
       "box:1: its Content-Length 20 does not land on the next message's 'From ' line or the "
       "end of the file: split at the next 'From ' line\n"},
      {"From a\nContent-Length: 999999999999999999\n\nbody\n\n" + good,
       "box:1: its Content-Length 999999999999999999 is over the message size limit: split at "
       "the next 'From ' line\n"},
  };
  for (const Case& c : cases) {
    for (size_t chunk : {1, 5, 1 << 20}) {
      auto items = Split(c.mbox, chunk, o);
      BOOST_TEST(Notices(items) == c.notice);
      auto messages = MessagesOnly(items);
      BOOST_REQUIRE_GE(messages.size(), 1u);
      BOOST_TEST(messages[0].bytes.find("body\n") != std::string::npos);
      BOOST_TEST(messages[0].bytes.find("Subject: two") == std::string::npos);  // not swallowed
      if (c.mbox.find("Subject: two") != std::string::npos) {
        BOOST_REQUIRE_EQUAL(messages.size(), 2u);
        BOOST_TEST(messages[1].bytes == "Subject: two\nContent-Length: 2\n\nx\n");
      }
    }
  }
}

// Found by fuzz_mbox: a length landing on "From " in the middle of a line is no separator.
BOOST_AUTO_TEST_CASE(content_length_landing_inside_a_line_is_no_separator) {
  SourceOptions o;
  o.mbox_format = MboxFormat::kContentLength;
  auto items = Split("From a\nContent-Length: 3\n\nabcFrom b\nx\n", 4, o);
  auto messages = MessagesOnly(items);
  BOOST_REQUIRE_EQUAL(messages.size(), 1u);
  BOOST_TEST(messages[0].bytes == "Content-Length: 3\n\nabcFrom b\nx\n");
  BOOST_TEST(Notices(items).find("does not land") != std::string::npos, Notices(items));
}

BOOST_AUTO_TEST_CASE(content_length_last_message_without_empty_line_and_crlf) {
  SourceOptions o;
  o.mbox_format = MboxFormat::kContentLength;
  auto items = Split("From a\r\nContent-Length: 4\r\n\r\nab\r\n", 2, o);
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].bytes == "Content-Length: 4\r\n\r\nab\r\n");
  BOOST_TEST(items[0].error.ok());
}

// A CRLF mboxcl2 (each line and the writer's empty line end in CRLF, the Content-Length
// counting the CRs): every length lands on "\r\nFrom " or the end, and is followed. (Only
// "\n" and "\nFrom " were taken as landings: every message was split at "From " lines, so a
// body line "From ..." cut it in two, with a notice per message.)
BOOST_AUTO_TEST_CASE(content_length_of_a_crlf_mbox_lands_on_the_crlf_empty_line) {
  SourceOptions o;
  o.mbox_format = MboxFormat::kContentLength;
  const std::string body1 = "Hello\r\n\r\nFrom the start of a line\r\n";
  const std::string body2 = "x\r\n";
  const std::string mbox =
      "From a@example.org Tue Nov 14 22:13:20 2023\r\nSubject: one\r\nContent-Length: " +
      std::to_string(body1.size()) + "\r\n\r\n" + body1 + "\r\n" +
      "From b@example.org Tue Nov 14 22:13:20 2023\r\nSubject: two\r\nContent-Length: " +
      std::to_string(body2.size()) + "\r\n\r\n" + body2 + "\r\n";
  for (size_t chunk : {1, 3, 7, 64, 1 << 20}) {
    auto items = Split(mbox, chunk, o);
    auto messages = MessagesOnly(items);
    BOOST_REQUIRE_EQUAL(messages.size(), 2u);
    BOOST_TEST(messages[0].bytes == "Subject: one\r\nContent-Length: " +
                                        std::to_string(body1.size()) + "\r\n\r\n" + body1);
    BOOST_TEST(messages[1].bytes == "Subject: two\r\nContent-Length: 3\r\n\r\nx\r\n");
    BOOST_TEST(messages[1].envelope_from == "b@example.org");
    // Only the body's "From " line after an empty line is told; no length is refused.
    BOOST_TEST(Notices(items).find("does not land") == std::string::npos, Notices(items));
    BOOST_TEST(Notices(items).find("holds 1 line that looks like") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
