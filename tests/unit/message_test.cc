// Message::Parse (RFC 5322 §2.2 / §2.3): CRLF and bare LF, folding, limits, not-a-message.
#include "credence/message.h"

#include <boost/test/unit_test.hpp>

#include "credence/simd.h"

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

// The line-end copy works 16 bytes at a time; a byte-at-a-time reading of RFC 5322 §2.3's
// CRLF (a bare LF gains a CR, a CR LF stays) must give the same bytes for any mix of CR, LF
// and text, at every length and alignment around the 16-byte blocks, and at every cut.
BOOST_AUTO_TEST_CASE(line_ends_match_a_byte_at_a_time_copy) {
  auto reference = [](std::string_view in, size_t max) {
    std::string out;
    size_t pos = 0;
    while (pos < in.size()) {  // line by line: a line and its end go whole or not at all
      size_t lf = in.find('\n', pos);
      size_t end = lf == std::string_view::npos ? in.size() : lf;
      std::string piece(in.substr(pos, end - pos));
      std::string line_end = lf == std::string_view::npos ? ""
                             : (end > pos && in[end - 1] == '\r') ? "\n" : "\r\n";
      if (out.size() + piece.size() + line_end.size() > max) {
        out += piece.substr(0, max - out.size());
        return out;
      }
      out += piece + line_end;
      pos = lf == std::string_view::npos ? in.size() : lf + 1;
    }
    return out;
  };
  uint32_t seed = 12345;
  auto next = [&seed] { return (seed = seed * 1103515245u + 12345u) >> 16; };
  const char alphabet[] = {'\n', '\r', 'a', ' ', 'F'};
  size_t checked = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string body;
    const size_t len = next() % (round % 4 == 3 ? 400 : 80);  // many 16-byte blocks, or few
    for (size_t i = 0; i < len; ++i) body += alphabet[next() % (round % 3 == 0 ? 2 : 5)];
    const std::string in = "From: a\r\n\r\n" + body;
    Limits l;
    l.max_message_bytes = round % 2 == 0 ? 1000 : 11 + next() % 100;
    Result<Message> m = Message::Parse(in, l);
    BOOST_TEST_REQUIRE(m.ok());
    const std::string want = reference(in, l.max_message_bytes);
    BOOST_TEST(std::string(m->data()) == want, "input of " << in.size() << " bytes, limit "
                                                             << l.max_message_bytes);
    BOOST_TEST(m->body_truncated() == (want.size() < reference(in, SIZE_MAX).size()));
    ++checked;
  }
  BOOST_TEST(checked == 4000u);
}

// A host that parses one message after another hands the last one's storage to the next:
// the new message reads exactly as if parsed alone, and the storage is reused when it fits.
BOOST_AUTO_TEST_CASE(reused_buffer_reads_as_a_new_one) {
  const std::string first =
      "From: a@b\nSubject: a long first message\n\n" + std::string(500, 'x') + "\n";
  const std::string second = "To: c@d\r\nFrom: e@f\n\nshort\n";
  Result<Message> a = Message::Parse(first);
  BOOST_TEST_REQUIRE(a.ok());
  const char* storage = a->data().data();
  std::unique_ptr<std::string> buffer = std::move(*a).TakeBuffer();
  BOOST_TEST_REQUIRE(buffer != nullptr);
  Result<Message> b = Message::Parse(second, Limits(), 0, std::move(buffer));
  Result<Message> alone = Message::Parse(second);
  BOOST_TEST_REQUIRE(b.ok());
  BOOST_TEST(b->data() == alone->data());
  BOOST_TEST(b->data().data() == storage);  // the first message's storage, not a new one
  BOOST_TEST_REQUIRE(b->headers().size() == 2u);
  BOOST_TEST(b->headers()[1].value == " e@f");
  BOOST_TEST(b->body() == "short\r\n");
  Result<Message> empty = Message::Parse("", Limits(), 0, std::make_unique<std::string>("old"));
  BOOST_TEST(!empty.ok());
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

BOOST_AUTO_TEST_CASE(empty_input_is_the_one_error) {
  BOOST_TEST((Message::Parse("").status().code() == StatusCode::kInvalidInput));
  // A host that could keep nothing of a message still gets it judged as cut.
  Result<Message> m = Message::Parse("", Limits(), 100);
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->body_truncated());
}

// As Exim and Postfix read a message: the header section ends at the first line that is not
// a field or a continuation, and that line starts the body. Nothing is "not a message".
// AppendWithCrlf appends (it is how the archive reader normalises a message piece by piece)
// and says when the limit cut it; ParseNormalised takes such a text as it is.
BOOST_AUTO_TEST_CASE(append_with_crlf_and_parse_normalised) {
  std::string out = "x\r\n";
  BOOST_TEST(!AppendWithCrlf("A: 1\nB: 2\r\n\nbody\rmore\n", 100, &out));
  BOOST_TEST(out == "x\r\nA: 1\r\nB: 2\r\n\r\nbody\rmore\r\n");
  std::string cut;
  BOOST_TEST(AppendWithCrlf("A: 1\nB: 2\n", 11, &cut));
  BOOST_TEST(cut == "A: 1\r\nB: 2");  // as Parse cuts a message at the limit
  std::string whole;
  BOOST_TEST(!AppendWithCrlf("A: 1\nB: 2\n", 12, &whole));
  Result<Message> m = Message::ParseNormalised(std::make_unique<std::string>(whole), Limits());
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->headers().size() == 2u);
  BOOST_TEST(m->headers()[1].value == " 2");
  BOOST_TEST(!m->body_truncated());
  BOOST_TEST(!Message::ParseNormalised(std::make_unique<std::string>(), Limits()).ok());
  BOOST_TEST(!Message::ParseNormalised(nullptr, Limits()).ok());
}

// AppendWithCrlf, at each level this CPU runs (credence/simd.h), against the rule written out byte by byte: bare
// LFs at every offset of the 16- and 32-byte blocks (first byte, last byte, CR in the block
// before), runs of LFs that use up the room kept for CRs, and limits on both sides of the
// block forms' bound (there the rule's cut: the bytes that fit, a CR LF never split).
BOOST_AUTO_TEST_CASE(append_with_crlf_matches_the_rule_byte_by_byte) {
  auto rule = [](std::string_view in, size_t max_out, std::string out) {
    for (size_t i = 0; i < in.size(); ++i) {
      const bool bare = in[i] == '\n' && (i == 0 || in[i - 1] != '\r');
      if (out.size() + (bare ? 2 : 1) > max_out) return std::make_pair(true, out);
      if (bare) out.push_back('\r');
      out.push_back(in[i]);
    }
    return std::make_pair(false, out);
  };
  BOOST_TEST_MESSAGE("widest form this CPU runs: level " << static_cast<int>(simd::Best()));
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  const char alphabet[] = {'a', 'b', '\r', '\n', '\n', 'x'};
  size_t cases = 0;
  for (size_t len : {0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000, 4096}) {
    for (int round = 0; round < 40; ++round) {
      std::string in;
      const int lf_weight = round % 4;  // 0: few LFs ... 3: mostly LFs
      for (size_t i = 0; i < len; ++i) {
        const uint32_t r = next();
        in.push_back(r % 4 < static_cast<uint32_t>(lf_weight) ? '\n' : alphabet[r % 6]);
      }
      const std::string prefix = round % 2 ? "p\r" : "";
      for (size_t max_out : {size_t{1} << 20, prefix.size() + 2 * len, prefix.size() + len}) {
        const auto [want_cut, want] = rule(in, max_out, prefix);
        for (int level = 0; level <= static_cast<int>(simd::Best()); ++level) {
          simd::ScopedCap cap(static_cast<simd::Level>(level));
          std::string got = prefix;
          BOOST_TEST(AppendWithCrlf(in, max_out, &got) == want_cut);
          // cut where the rule stops: a CR LF is never split
          BOOST_TEST(got == want, "level " << level << ", " << len << " bytes");
        }
        ++cases;
      }
    }
  }
  BOOST_TEST(cases == 15u * 40u * 3u);
}

BOOST_AUTO_TEST_CASE(a_line_that_is_not_a_field_ends_the_header_section) {
  struct Case {
    std::string raw;
    size_t fields;
    std::string body;
  };
  const Case cases[] = {
      {"\r\nbody only\r\n", 0, "body only\r\n"},
      {"just some text\r\n\r\n", 0, "just some text\r\n\r\n"},
      {" continuation first\r\nFrom: a\r\n\r\n", 0, " continuation first\r\nFrom: a\r\n\r\n"},
      {": empty name\r\n\r\n", 0, ": empty name\r\n\r\n"},
      {"Bad\x01Name: x\r\n\r\n", 0, "Bad\x01Name: x\r\n\r\n"},
      {"From: a\r\nno colon here\r\n\r\nx", 1, "no colon here\r\n\r\nx"},
      {"From: a\r\nTo: b\r\n c\r\nX Y: z\r\n", 2, "X Y: z\r\n"},
  };
  for (const Case& c : cases) {
    Result<Message> m = Message::Parse(c.raw);
    BOOST_TEST_REQUIRE(m.ok(), c.raw);
    BOOST_TEST(m->headers().size() == c.fields, c.raw);
    BOOST_TEST(m->body() == c.body, c.raw);
    BOOST_TEST(m->limit_notes().empty());
  }
}

BOOST_AUTO_TEST_CASE(body_may_contain_anything) {
  std::string raw("From: a\r\n\r\n\x00\x01: not a header\r\n", 29);
  Result<Message> m = Message::Parse(raw);
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->body().size() == 18u);
}

BOOST_AUTO_TEST_CASE(a_message_over_the_size_limit_is_read_up_to_it) {
  Limits l;
  l.max_message_bytes = 30;
  Result<Message> m = Message::Parse(std::string("From: a\r\n\r\n") + std::string(40, 'x'), l);
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->body_truncated());
  BOOST_TEST(m->data().size() == 30u);
  BOOST_TEST(m->body() == std::string(19, 'x'));
  BOOST_TEST_REQUIRE(m->limit_notes().size() == 1u);
  BOOST_TEST(m->limit_notes()[0] == "message of 51 bytes: only the first 30 read");
  // LF -> CRLF growth counts too.
  Result<Message> grown = Message::Parse(std::string("From: a\n\n") + std::string(15, '\n'), l);
  BOOST_TEST_REQUIRE(grown.ok());
  BOOST_TEST(grown->body_truncated());
  BOOST_TEST(grown->data().size() == 29u);  // cut at the last whole CRLF that fits
  BOOST_TEST(grown->limit_notes()[0] ==
             "message of 24 bytes (over the 30-byte limit with its bare LFs made CRLF): only "
             "the first 29 read");
  // Exactly at the limit: whole.
  Result<Message> exact = Message::Parse("From: a\r\n\r\n" + std::string(19, 'x'), l);
  BOOST_TEST_REQUIRE(exact.ok());
  BOOST_TEST(!exact->body_truncated());
  // A host's prefix: judged as cut even within the limit.
  Result<Message> prefix = Message::Parse("From: a\r\n\r\nxx", Limits(), 5000);
  BOOST_TEST_REQUIRE(prefix.ok());
  BOOST_TEST(prefix->body_truncated());
  BOOST_TEST(prefix->limit_notes()[0] == "message of 5000 bytes: only the first 13 read");
}

BOOST_AUTO_TEST_CASE(body_lines_are_not_limited) {
  Result<Message> m = Message::Parse("From: a\r\n\r\n" + std::string(1 << 20, 'y') + "\r\n");
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST(m->body().size() == (1u << 20) + 2);
  BOOST_TEST(m->limit_notes().empty());
}

BOOST_AUTO_TEST_CASE(past_the_field_limit_only_verdict_fields_are_read) {
  Limits fields;
  fields.max_header_fields = 3;
  Result<Message> whole = Message::Parse("A: 1\r\nB: 2\r\nC: 3\r\n\r\n", fields);
  BOOST_TEST_REQUIRE(whole.ok());
  BOOST_TEST(whole->limit_notes().empty());
  Result<Message> m = Message::Parse(
      "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nFROM: x@y\r\nE: 5\r\n folded\r\n"
      "DKIM-Signature: v=1\r\n more\r\nAuthentication-Results: z; none\r\n\r\nbody",
      fields);
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST_REQUIRE(m->headers().size() == 6u);
  BOOST_TEST(m->headers()[3].raw == "FROM: x@y");
  BOOST_TEST(m->headers()[4].raw == "DKIM-Signature: v=1\r\n more");
  BOOST_TEST(m->headers()[5].name == "Authentication-Results");
  BOOST_TEST(m->skipped_fields() == 2u);
  BOOST_TEST(m->body() == "body");
  // Positions count the skipped D and E: what Exim's header list order needs.
  const size_t want[] = {0, 1, 2, 4, 6, 7};
  for (size_t i = 0; i < 6; ++i) BOOST_TEST(m->FieldPosition(i) == want[i]);
  BOOST_TEST_REQUIRE(m->limit_notes().size() == 1u);
  BOOST_TEST(m->limit_notes()[0].find("2 fields after it not read") != std::string::npos);
  // Verdict fields past the limit are themselves bounded (max_header_fields more).
  std::string many = "A: 1\r\nB: 2\r\nC: 3\r\n";
  for (int i = 0; i < 5; ++i) many += "From: x@y\r\n";
  Result<Message> flood = Message::Parse(many + "\r\n", fields);
  BOOST_TEST_REQUIRE(flood.ok());
  BOOST_TEST(flood->headers().size() == 6u);
  BOOST_TEST(flood->skipped_fields() == 2u);
  BOOST_TEST(flood->limit_notes()[0].find("2 of them From") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(past_the_header_byte_limit_only_verdict_fields_are_read) {
  Limits header;
  header.max_header_bytes = 20;
  Result<Message> small = Message::Parse("A: 1\r\n\r\n" + std::string(100, 'b'), header);
  BOOST_TEST_REQUIRE(small.ok());
  BOOST_TEST(small->limit_notes().empty());
  Result<Message> m =
      Message::Parse("A: 1\r\nB: 2222222222222222\r\nC: 3\r\nFrom: a@b\r\n\r\nx", header);
  BOOST_TEST_REQUIRE(m.ok());
  BOOST_TEST_REQUIRE(m->headers().size() == 3u);  // A, B (starts before byte 20), From
  BOOST_TEST(m->headers()[2].name == "From");
  BOOST_TEST(m->skipped_fields() == 1u);
  BOOST_TEST(m->FieldPosition(2) == 3u);
  BOOST_TEST(m->body() == "x");
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
