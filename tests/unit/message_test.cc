// Message::Parse (RFC 5322 §2.2 / §2.3): CRLF and bare LF, folding, limits, not-a-message.
#include "credence/message.h"

#include <boost/test/unit_test.hpp>

namespace credence {
namespace {

BOOST_AUTO_TEST_SUITE(message)

BOOST_AUTO_TEST_CASE(crlf_fields_and_body) {
  Result<Message> m = Message::Parse("From: a@b\r\nTo: c@d\r\n\r\nline1\r\nline2\r\n");
  BOOST_TEST_REQUIRE(m.ok(), m.status().ToString());
  BOOST_TEST_REQUIRE(m->headers().size() == 2u);
  BOOST_TEST(m->headers()[0].name == "From");
  BOOST_TEST(m->headers()[0].value == " a@b");
  BOOST_TEST(m->headers()[0].raw == "From: a@b");
  BOOST_TEST(m->body() == "line1\r\nline2\r\n");
}

BOOST_AUTO_TEST_CASE(bare_lf_becomes_crlf) {
  Result<Message> m = Message::Parse("From: a@b\nSubject: x\n y\n\nbody\n\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->headers()[1].raw == "Subject: x\r\n y");
  BOOST_TEST(m->body() == "body\r\n\r\n");
  BOOST_TEST(m->data() == "From: a@b\r\nSubject: x\r\n y\r\n\r\nbody\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(mixed_line_ends) {
  Result<Message> m = Message::Parse("From: a@b\r\nTo: c\n\r\nx\ny\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->headers().size() == 2u);
  BOOST_TEST(m->body() == "x\r\ny\r\n");
}

BOOST_AUTO_TEST_CASE(folded_field_keeps_folds) {
  Result<Message> m = Message::Parse("Subject: one\r\n two\r\n\tthree\r\nFrom: a\r\n\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->headers().size() == 2u);
  BOOST_TEST(m->headers()[0].value == " one\r\n two\r\n\tthree");
  BOOST_TEST(m->headers()[1].name == "From");
}

BOOST_AUTO_TEST_CASE(no_blank_line_means_no_body) {
  Result<Message> m = Message::Parse("From: a@b\r\nTo: c");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->headers().size() == 2u);
  BOOST_TEST(m->headers()[1].raw == "To: c");
  BOOST_TEST(m->body().empty());
  Result<Message> m2 = Message::Parse("From: a@b\r\n");
  BOOST_TEST_REQUIRE(m2.ok());
  BOOST_TEST(m2->headers()[0].raw == "From: a@b");
}

BOOST_AUTO_TEST_CASE(empty_body_after_blank_line) {
  Result<Message> m = Message::Parse("From: a@b\r\n\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->body().empty());
}

BOOST_AUTO_TEST_CASE(empty_field_value_and_space_before_colon) {
  Result<Message> m = Message::Parse("X-Empty:\r\nSubject : hi\r\n\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->headers()[0].value == "");
  BOOST_TEST(m->Find("subject") != nullptr);
}

BOOST_AUTO_TEST_CASE(find_is_case_insensitive_and_ordered) {
  Result<Message> m = Message::Parse("Received: 1\r\nreceived: 2\r\nFrom: a\r\nRECEIVED: 3\r\n\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  std::vector<const HeaderField*> all = m->FindAll("Received");
  BOOST_TEST_REQUIRE(all.size() == 3u);
  BOOST_TEST(all[0]->value == " 1");
  BOOST_TEST(all[2]->value == " 3");
  BOOST_TEST(m->Find("RECEIVED")->value == " 1");
  BOOST_TEST(m->Find("X-None") == nullptr);
}

BOOST_AUTO_TEST_CASE(not_a_message) {
  BOOST_TEST((Message::Parse("").status().code() == StatusCode::kInvalidInput));
  BOOST_TEST((Message::Parse("\r\nbody only\r\n").status().code() == StatusCode::kInvalidInput));
  BOOST_TEST((Message::Parse("just some text\r\n\r\n").status().code() ==
              StatusCode::kInvalidInput));
  BOOST_TEST((Message::Parse(" continuation first\r\nFrom: a\r\n\r\n").status().code() ==
              StatusCode::kInvalidInput));
  BOOST_TEST((Message::Parse(": empty name\r\n\r\n").status().code() ==
              StatusCode::kInvalidInput));
  BOOST_TEST((Message::Parse("Bad\x01Name: x\r\n\r\n").status().code() ==
              StatusCode::kInvalidInput));
  BOOST_TEST((Message::Parse("From: a\r\nno colon here\r\n\r\n").status().code() ==
              StatusCode::kInvalidInput));
}

BOOST_AUTO_TEST_CASE(body_may_contain_anything) {
  std::string raw("From: a\r\n\r\n\x00\x01: not a header\r\n", 29);
  Result<Message> m = Message::Parse(raw);
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->body().size() == 18u);
}

BOOST_AUTO_TEST_CASE(limits) {
  Limits l;
  l.max_message_bytes = 30;
  BOOST_TEST((Message::Parse(std::string("From: a\r\n\r\n") + std::string(40, 'x'), l)
                  .status()
                  .code() == StatusCode::kTooLarge));
  // LF -> CRLF growth counts too.
  BOOST_TEST((Message::Parse(std::string("From: a\n\n") + std::string(15, '\n'), l)
                  .status()
                  .code() == StatusCode::kTooLarge));
  Limits fields;
  fields.max_header_fields = 3;
  BOOST_TEST(Message::Parse("A: 1\r\nB: 2\r\nC: 3\r\n\r\n", fields).ok());
  BOOST_TEST((Message::Parse("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", fields).status().code() ==
              StatusCode::kTooLarge));
  Limits header;
  header.max_header_bytes = 20;
  BOOST_TEST(Message::Parse("A: 1\r\n\r\n" + std::string(100, 'b'), header).ok());
  BOOST_TEST((Message::Parse("A: 1\r\nB: 2222222222222222\r\nC: 3\r\n\r\n", header)
                  .status()
                  .code() == StatusCode::kTooLarge));
  BOOST_TEST((Message::Parse("A: 1\r\nB: 2222222222222222222222222222", header).status().code() ==
              StatusCode::kTooLarge));
}

BOOST_AUTO_TEST_CASE(views_survive_moves) {
  Result<Message> m = Message::Parse("From: a@b\r\n\r\nbody");
  BOOST_TEST_REQUIRE(m.ok());
  Message moved = std::move(m).value();
  std::vector<Message> v;
  v.push_back(std::move(moved));
  v.reserve(100);
  BOOST_TEST(v[0].headers()[0].value == " a@b");
  BOOST_TEST(v[0].body() == "body");
}

BOOST_AUTO_TEST_CASE(hostile_inputs_do_not_crash) {
  std::string s;
  for (int i = 0; i < 5000; ++i) s += (i % 3 == 0) ? "\r" : (i % 3 == 1 ? "\n" : " ");
  (void)Message::Parse(s);
  (void)Message::Parse(std::string(100000, '\n'));
  (void)Message::Parse(std::string(100000, ':'));
  Result<Message> m = Message::Parse("A:" + std::string(50000, ' ') + "\r\n");
  BOOST_TEST(m.ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
