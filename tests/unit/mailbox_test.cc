#include "archive/mailbox.h"

#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <boost/test/unit_test.hpp>

#include "credence/message.h"
#include "credence/simd.h"
#include "mbox_split_fixture.h"
#include "temp_dir.h"
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace credence {
namespace {

namespace fs = std::filesystem;

using testing::PieceReader;
using testing::Split;
using testing::TempDir;

std::vector<SourceItem> ReadAll(const std::string& path, SourceOptions options = {}) {
  Result<std::unique_ptr<MessageSource>> src = OpenMessageSource(path, options);
  BOOST_REQUIRE_MESSAGE(src.ok(), src.status().ToString());
  std::vector<SourceItem> items;
  SourceItem item;
  while ((*src)->Next(&item)) items.push_back(item);
  return items;
}

// The items as one comparable text.
std::string Show(const std::vector<SourceItem>& items) {
  std::string s;
  for (const SourceItem& i : items) {
    s += i.name + "|" + i.envelope_from + "|" + i.error.ToString() + "|" + i.bytes + "\n--\n";
  }
  return s;
}


// `data` as one gzip member (RFC 1952), in memory.
std::string Gzip(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// zlib's message for the first error inflating the gzip `data`; "" when it inflates.
std::string InflateError(const std::string& data) {
  z_stream zs{};
  inflateInit2(&zs, 16 + MAX_WBITS);
  std::string out(1 << 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string why;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int ret = inflate(&zs, Z_NO_FLUSH);
    if (ret == Z_STREAM_END) break;
    if (ret != Z_OK) {
      why = zs.msg ? zs.msg : "error " + std::to_string(ret);
      break;
    }
  }
  inflateEnd(&zs);
  return why;
}

// An mbox of `n` small messages, each with a distinct body of pseudo-random letters (so the
// compressed size grows evenly with the messages).
std::string ManyMessages(int n) {
  std::string s;
  uint32_t x = 17;
  for (int i = 1; i <= n; ++i) {
    s += "From a@example.com Sat Jan  3 01:05:34 1996\nFrom: a@example.com\nSubject: m" +
         std::to_string(i) + "\n\nbody ";
    for (int k = 0; k < 200; ++k) {
      x = x * 1103515245u + 12345u;
      s += static_cast<char>('a' + (x >> 16) % 26);
    }
    s += "\n\n";
  }
  return s;
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

// "From :" (white space before the colon) starts a message's From field, not an mbox: read as
// a separator it would hide that field and leave the next From to be judged.
BOOST_AUTO_TEST_CASE(from_field_with_space_before_colon_is_a_message) {
  TempDir t;
  const std::string msg = "From : ceo@bank.example\nFrom: x@evil.example\nSubject: s\n\nbody\n";
  auto items = ReadAll(t.Write("m.eml", msg));
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].bytes == msg);
  auto tab = ReadAll(t.Write("t.eml", "From \t: a@b.example\n\nx\n"));
  BOOST_REQUIRE_EQUAL(tab.size(), 1u);
  // A real separator, and one with nothing after "From ", are still mboxes.
  auto box = ReadAll(t.Write("box", std::string(kMbox)));
  BOOST_TEST(box.size() == 2u);
  auto bare = ReadAll(t.Write("bare", "From "));
  BOOST_TEST(bare.empty());
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

// Text before the first "From " line, CRLF and LF lines, quoted lines (first body line, deeper,
// mboxo-only), blank lines, an empty message, a message that is one blank line, a last line
// without a newline.
const char kMixed[] =
    "junk before\nFromage\n\n"
    "From a@x Mon Jan 1 00:00:00 2024\r\n>From first\r\nSubject: crlf\r\n\r\n>>From two\r\n\r\n"
    "From b@x\n"
    "From \n\n"
    "From c@x\tMon\n>>From the body\n>From \n>>>From x\n> From no\n>From\n\n\n"
    "From the body\nx\n"
    "From d@x\n>";

BOOST_AUTO_TEST_CASE(chunk_boundaries_do_not_change_the_items) {
  for (MboxFormat format : {MboxFormat::kMboxrd, MboxFormat::kMboxo}) {
    SourceOptions o;
    o.mbox_format = format;
    std::vector<SourceItem> whole = Split(kMixed, 1 << 20, o);
    BOOST_REQUIRE_EQUAL(whole.size(), 6u);
    for (size_t chunk : {1, 2, 3, 5, 6, 7, 13, 64}) {
      BOOST_TEST_CONTEXT("chunk " << chunk) {
        BOOST_TEST(Show(Split(kMixed, chunk, o)) == Show(whole));
      }
    }
  }
  std::vector<SourceItem> items = Split(kMixed, 1);
  BOOST_TEST(items[0].envelope_from == "a@x");
  BOOST_TEST(items[0].bytes == "From first\r\nSubject: crlf\r\n\r\n>From two\r\n");
  BOOST_TEST(items[1].envelope_from == "b@x");
  BOOST_TEST(items[1].bytes == "");
  BOOST_TEST(items[2].envelope_from == "");
  BOOST_TEST(items[2].bytes == "");  // its only line was the blank line before the next
  BOOST_TEST(items[3].envelope_from == "c@x");
  BOOST_TEST(items[3].bytes == ">From the body\nFrom \n>>From x\n> From no\n>From\n\n");
  BOOST_TEST(items[4].name == "box:5");
  BOOST_TEST(items[4].envelope_from == "the");  // "From the body" is a separator line
  BOOST_TEST(items[4].bytes == "x\n");
  BOOST_TEST(items[5].bytes == ">");
}

// With normalise_up_to the reader hands out each message with CRLF line ends, exactly the
// text Message::Parse makes of the stored bytes, and Message::ParseNormalised reads it as
// Parse reads the stored bytes; a message whose normalised text would pass the limit comes
// as stored (crlf false), for Parse to cut.
BOOST_AUTO_TEST_CASE(normalised_items_are_the_text_parse_makes) {
  const std::string boxes[] = {kMbox, kMixed,
                               "From a@x\nA: 1\r\nB: 2\n\nbare\rcr\n>From q\r\nlast\n\n",
                               ManyMessages(3)};
  for (const std::string& box : boxes) {
    for (MboxFormat format : {MboxFormat::kMboxrd, MboxFormat::kMboxo}) {
      SourceOptions stored;
      stored.mbox_format = format;
      const std::vector<SourceItem> want = Split(box, 1 << 20, stored);
      for (size_t chunk : {1, 3, 64, 1 << 20}) {
        SourceOptions o = stored;
        o.normalise_up_to = 1 << 20;
        const std::vector<SourceItem> got = Split(box, chunk, o);
        BOOST_REQUIRE_EQUAL(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          BOOST_TEST_CONTEXT("item " << i << " chunk " << chunk) {
            std::string crlf;
            BOOST_TEST(!AppendWithCrlf(want[i].bytes, 1 << 20, &crlf));
            BOOST_TEST(got[i].crlf);
            BOOST_TEST(got[i].bytes == crlf);
            BOOST_TEST(got[i].stored_size == want[i].bytes.size());
            BOOST_TEST(got[i].envelope_from == want[i].envelope_from);
            Result<Message> a = Message::Parse(want[i].bytes);
            Result<Message> b =
                Message::ParseNormalised(std::make_unique<std::string>(got[i].bytes), Limits());
            BOOST_TEST(a.ok() == b.ok());
            if (a.ok() && b.ok()) {
              BOOST_TEST(a->data() == b->data());
              BOOST_TEST(a->body() == b->body());
              BOOST_REQUIRE_EQUAL(a->headers().size(), b->headers().size());
              for (size_t k = 0; k < a->headers().size(); ++k) {
                BOOST_TEST(a->headers()[k].raw == b->headers()[k].raw);
              }
            }
          }
        }
      }
    }
  }
  // "A: 1\nB: 2\n": 10 bytes stored, 12 normalised. A limit of 11 keeps the stored bytes.
  SourceOptions o;
  o.normalise_up_to = 11;
  std::vector<SourceItem> items = Split("From a@x\nA: 1\nB: 2\n", 5, o);
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(!items[0].crlf);
  BOOST_TEST(items[0].bytes == "A: 1\nB: 2\n");
  o.normalise_up_to = 12;
  items = Split("From a@x\nA: 1\nB: 2\n", 5, o);
  BOOST_TEST(items[0].crlf);
  BOOST_TEST(items[0].bytes == "A: 1\r\nB: 2\r\n");
  BOOST_TEST(items[0].stored_size == 10u);
}

// The line-mark scan at every level this CPU runs (credence/simd.h) splits alike: "From "
// and quoted lines at every offset of the 16- and 64-byte blocks and of the masked last one.
BOOST_AUTO_TEST_CASE(every_scan_level_splits_alike) {
  std::vector<std::string> boxes = {kMbox, kMixed, ManyMessages(20)};
  for (size_t pad = 0; pad < 140; ++pad) {
    std::string box = "From a@x\nA: 1\n\n" + std::string(pad, 'x') + "\n>From q\n" +
                      std::string(pad % 67, 'y') + "\nFrom b@x\n" + std::string(pad, 'z') +
                      "\n>>From r\nFrom c@x\n" + std::string(pad % 5, '>');
    boxes.push_back(box);
  }
  for (const std::string& box : boxes) {
    for (MboxFormat format : {MboxFormat::kMboxrd, MboxFormat::kMboxo}) {
      SourceOptions o;
      o.mbox_format = format;
      std::string want;
      {
        simd::ScopedCap cap(simd::Level::kScalar);
        want = Show(Split(box, 1 << 20, o));
      }
      for (int level = 1; level <= static_cast<int>(simd::Best()); ++level) {
        simd::ScopedCap cap(static_cast<simd::Level>(level));
        for (size_t chunk : {size_t{1} << 20, size_t{7}, size_t{64}}) {
          BOOST_TEST(Show(Split(box, chunk, o)) == want, "level " << level << " chunk " << chunk);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(from_line_at_every_chunk_edge) {
  // One read cut at every offset: through "\n|From ", "\nFr|om ", the envelope, the CRLF...
  const std::string box =
      "From a@x Mon\r\nA: 1\r\n\r\n>From q\r\n\r\nFrom b@x Tue\r\nB: 2\r\n\r\nFrom c@x\r\n";
  std::string whole = Show(Split(box, box.size()));
  BOOST_TEST(whole == "box:1|a@x|ok|A: 1\r\n\r\nFrom q\r\n\n--\n"
                      "box:2|b@x|ok|B: 2\r\n\n--\n"
                      "box:3|c@x|ok|\n--\n");
  for (size_t cut = 0; cut <= box.size(); ++cut) {
    BOOST_TEST_CONTEXT("cut at " << cut) {
      auto cut_at = [&](std::vector<size_t> cuts) {
        return Show(Split(std::make_unique<PieceReader>(box, box.size(), std::move(cuts))));
      };
      BOOST_TEST(cut_at({cut}) == whole);
      BOOST_TEST(cut_at({cut, cut + 1}) == whole);  // and a read of one byte there
    }
  }
}

BOOST_AUTO_TEST_CASE(crlf_only_the_last_blank_line_is_removed) {
  const std::string box =
      "From a@x\r\nSubject: x\r\n\r\nbody\r\n\r\n\r\nFrom b@x\r\nSubject: y\r\n\r\nz\r\n\r\n";
  for (size_t chunk : {1, 4, 1000}) {
    std::vector<SourceItem> items = Split(box, chunk);
    BOOST_REQUIRE_EQUAL(items.size(), 2u);
    BOOST_TEST(items[0].bytes == "Subject: x\r\n\r\nbody\r\n\r\n");
    BOOST_TEST(items[1].bytes == "Subject: y\r\n\r\nz\r\n");
  }
  // A bare CR line is not blank.
  std::vector<SourceItem> cr = Split("From a@x\nA: 1\n\nb\n\r\n\r\r\n", 3);
  BOOST_REQUIRE_EQUAL(cr.size(), 1u);
  BOOST_TEST(cr[0].bytes == "A: 1\n\nb\n\r\n\r\r\n");
}

BOOST_AUTO_TEST_CASE(quoted_from_on_the_first_body_line) {
  const std::string box = "From a@x\n>From one\n>>From two\nX\n";
  for (size_t chunk : {1, 2, 100}) {
    std::vector<SourceItem> rd = Split(box, chunk);
    BOOST_REQUIRE_EQUAL(rd.size(), 1u);
    BOOST_TEST(rd[0].bytes == "From one\n>From two\nX\n");
    SourceOptions o;
    o.mbox_format = MboxFormat::kMboxo;
    std::vector<SourceItem> o1 = Split(box, chunk, o);
    BOOST_REQUIRE_EQUAL(o1.size(), 1u);
    BOOST_TEST(o1[0].bytes == "From one\n>>From two\nX\n");
  }
}

BOOST_AUTO_TEST_CASE(too_large_message_then_a_normal_one) {
  SourceOptions o;
  o.max_message_bytes = 100;
  // 100 bytes after unquoting is not over the limit, even though 101 are stored.
  std::string fits = "From a@x\n>From " + std::string(100 - 5 - 2, 'a') + "\n\n";
  std::string over = "From b@x\n" + std::string(100, 'b') + "\n\n";
  std::string box = fits + over + "From c@x\nC: 3\n";
  for (size_t chunk : {1, 7, 64, 100000}) {
    BOOST_TEST_CONTEXT("chunk " << chunk) {
      std::vector<SourceItem> items = Split(box, chunk, o);
      BOOST_REQUIRE_EQUAL(items.size(), 3u);
      BOOST_TEST(items[0].error.ok());
      BOOST_TEST(items[0].bytes.size() == 99u);  // the blank line is not counted
      BOOST_TEST(items[1].name == "box:2");
      BOOST_TEST(items[1].envelope_from == "b@x");
      BOOST_TEST(items[1].error.code() == StatusCode::kTooLarge);
      BOOST_TEST(items[1].error.message() == "message is over the limit of 100 bytes");
      BOOST_TEST(items[1].bytes.empty());
      BOOST_TEST(items[2].error.ok());
      BOOST_TEST(items[2].bytes == "C: 3\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(line_longer_than_the_limit) {
  SourceOptions o;
  o.max_message_bytes = 1000;
  const std::string longline(300000, 'x');  // longer than the limit and than one read
  std::string box = longline + "\n" +                                   // before the first
                    "From a@x\nA: 1\n\n" + longline + "From b@x\n" +  // not a separator
                    "\nFrom " + longline + " date\nB: 2\n";         // a long envelope
  for (size_t chunk : {1000, 4096, 1 << 20}) {
    BOOST_TEST_CONTEXT("chunk " << chunk) {
      std::vector<SourceItem> items = Split(box, chunk, o);
      BOOST_REQUIRE_EQUAL(items.size(), 2u);
      BOOST_TEST(items[0].envelope_from == "a@x");
      BOOST_TEST(items[0].error.code() == StatusCode::kTooLarge);
      BOOST_TEST(items[1].envelope_from == std::string(1000, 'x'));  // kept up to the limit
      BOOST_TEST(items[1].error.ok());
      BOOST_TEST(items[1].bytes == "B: 2\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(messages_larger_than_the_buffer_and_small_ones_after) {
  // The buffer grows for a large message and shrinks back after it; each comes out whole.
  std::vector<std::string> bodies;
  for (size_t size : {300000, 1500000, 10, 700000, 20}) {
    std::string b;
    for (size_t i = 0; b.size() < size; ++i) {
      b += (i % 1000 == 7 ? ">From line " : "line ") + std::to_string(i) + "\n";
    }
    bodies.push_back(b);
  }
  std::string box;
  for (const std::string& b : bodies) box += "From a@x\n" + b + "\n";
  for (size_t chunk : {size_t{1000}, size_t{300000}, size_t{1} << 30}) {
    BOOST_TEST_CONTEXT("chunk " << chunk) {
      std::vector<SourceItem> items = Split(box, chunk);
      BOOST_REQUIRE_EQUAL(items.size(), bodies.size());
      for (size_t i = 0; i < bodies.size(); ++i) {
        std::string want = bodies[i];
        for (size_t q = want.find("\n>From "); q != std::string::npos; q = want.find("\n>From ", q))
          want.erase(q + 1, 1);
        BOOST_TEST(items[i].error.ok());
        BOOST_TEST((items[i].bytes == want), "message " << i);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_line_far_longer_than_the_limit_keeps_memory_bounded) {
  // "From a@x\n", then 256 MiB without a newline, then a normal message; made up as it is read.
  struct Endless final : ByteReader {
    const std::string head = "From a@x\nA: 1\n\n", tail = "\nFrom b@x\nok\n";
    const size_t body = size_t{256} << 20;
    size_t pos = 0;
    size_t Read(char* buf, size_t n, Status*) override {
      const size_t total = head.size() + body + tail.size();
      size_t done = 0;
      while (done < n && pos < total) {
        size_t k;
        if (pos < head.size()) {
          k = std::min(n - done, head.size() - pos);
          std::memcpy(buf + done, head.data() + pos, k);
        } else if (pos < head.size() + body) {
          k = std::min(n - done, head.size() + body - pos);
          std::memset(buf + done, 'x', k);
        } else {
          k = std::min(n - done, total - pos);
          std::memcpy(buf + done, tail.data() + (pos - head.size() - body), k);
        }
        done += k;
        pos += k;
      }
      return done;
    }
  };
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  SourceOptions o;
  o.max_message_bytes = 1 << 20;
  std::vector<SourceItem> items = Split(std::make_unique<Endless>(), o);
  getrusage(RUSAGE_SELF, &after);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0].error.code() == StatusCode::kTooLarge);
  BOOST_TEST(items[1].bytes == "ok\n");
  BOOST_TEST(after.ru_maxrss - before.ru_maxrss < 64 * 1024);  // KiB: far below 256 MiB
}

BOOST_AUTO_TEST_CASE(read_error_in_the_middle_goes_to_the_message_being_read) {
  const std::string box = "From a@x\nA: 1\n\nFrom b@x\nB: 2\npart";
  for (size_t chunk : {1, 5, 1000}) {
    std::vector<SourceItem> items =
        Split(std::make_unique<PieceReader>(box, chunk, std::vector<size_t>{}, true));
    BOOST_REQUIRE_EQUAL(items.size(), 2u);
    BOOST_TEST(items[0].error.ok());
    BOOST_TEST(items[0].bytes == "A: 1\n");
    BOOST_TEST(items[1].envelope_from == "b@x");
    BOOST_TEST(items[1].error.code() == StatusCode::kIoError);
    BOOST_TEST(items[1].bytes.empty());
  }
}

// Issue 17 item 1: a gzip file cut short reads every message before the cut; the message the
// cut ends is an error item naming the file, never a message judged as if whole.
BOOST_AUTO_TEST_CASE(truncated_gzip_mbox_cuts_the_last_message_with_an_error) {
  TempDir t;
  const std::string gz = Gzip(ManyMessages(300));
  const std::string path = t.Write("box.gz", gz.substr(0, gz.size() * 2 / 3));
  auto items = ReadAll(path);
  BOOST_REQUIRE_GE(items.size(), 2u);
  for (size_t i = 0; i + 1 < items.size(); ++i) {
    BOOST_TEST(items[i].error.ok(), items[i].name);
    BOOST_TEST(items[i].bytes.find("\nSubject: m" + std::to_string(i + 1) + "\n") != std::string::npos);
  }
  const SourceItem& last = items.back();
  BOOST_TEST(!last.error.ok());
  BOOST_TEST(last.bytes.empty());
  BOOST_TEST(last.name == path + ":" + std::to_string(items.size()));
  BOOST_TEST(last.error.message().find("not judged") != std::string::npos, last.error.message());
  BOOST_TEST(last.error.message().find(path + ": the gzip data is cut short") != std::string::npos,
             last.error.message());
}

// A damaged trailer (CRC-32) leaves every message read (the bytes all inflated) and ends with
// an error item for the file that says what is wrong.
BOOST_AUTO_TEST_CASE(damaged_gzip_trailer_reports_every_message_then_the_error) {
  TempDir t;
  std::string gz = Gzip(ManyMessages(300));
  gz[gz.size() - 8] ^= 0x55;  // RFC 1952 §2.3.1: CRC32 is the trailer's first 4 bytes
  const std::string path = t.Write("box.gz", gz);
  auto items = ReadAll(path);
  BOOST_REQUIRE_EQUAL(items.size(), 301u);
  for (size_t i = 0; i < 300; ++i) BOOST_TEST(items[i].error.ok(), items[i].name);
  BOOST_TEST(items[299].bytes.find("\nSubject: m300\n") != std::string::npos);
  BOOST_TEST(items[300].name == path);
  BOOST_TEST(items[300].error.message().find(path + ": damaged gzip data") == 0u,
             items[300].error.message());
  BOOST_TEST(items[300].error.message().find("trailer does not match") != std::string::npos);
}

// Corrupt compressed data in the middle: the messages before it are read, the one it cuts is
// an error item.
BOOST_AUTO_TEST_CASE(corrupt_gzip_data_reads_what_came_before) {
  TempDir t;
  const std::string good = Gzip(ManyMessages(300));
  // 64 bytes of 0xff from the middle on, moved until inflate itself rejects them (not only
  // the trailer's CRC-32).
  std::string gz;
  for (size_t start = good.size() / 2; start + 100 < good.size() && gz.empty(); start += 97) {
    std::string attempt = good;
    for (size_t i = start; i < start + 64; ++i) attempt[i] = '\xff';
    const std::string why = InflateError(attempt);
    if (!why.empty() && why.find("check") == std::string::npos) gz = attempt;
  }
  BOOST_TEST_REQUIRE(!gz.empty());
  auto items = ReadAll(t.Write("box.gz", gz));
  BOOST_REQUIRE_GE(items.size(), 2u);
  for (size_t i = 0; i + 1 < items.size(); ++i) BOOST_TEST(items[i].error.ok(), items[i].name);
  BOOST_TEST(items.back().error.message().find("not judged") != std::string::npos);
  BOOST_TEST(items.back().error.message().find("damaged gzip data") != std::string::npos,
             items.back().error.message());
}

// RFC 1952 §2.2: members one after the other are one file (`gzip -c a >> b`).
BOOST_AUTO_TEST_CASE(concatenated_gzip_members_read_as_one) {
  TempDir t;
  const std::string all = ManyMessages(40);
  const size_t half = all.find("From a@", all.size() / 2);
  auto items = ReadAll(t.Write("box.gz", Gzip(all.substr(0, half)) + Gzip(all.substr(half))));
  BOOST_REQUIRE_EQUAL(items.size(), 40u);
  for (const SourceItem& i : items) BOOST_TEST(i.error.ok());
}

BOOST_AUTO_TEST_CASE(bytes_after_the_gzip_stream_are_an_error_after_every_message) {
  TempDir t;
  const std::string path = t.Write("box.gz", Gzip(ManyMessages(5)) + "garbage");
  auto items = ReadAll(path);
  BOOST_REQUIRE_EQUAL(items.size(), 6u);
  for (size_t i = 0; i < 5; ++i) BOOST_TEST(items[i].error.ok());
  BOOST_TEST(items[5].error.message().find("not gzip data") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(truncated_gzip_single_message_is_an_error) {
  TempDir t;
  const std::string gz = Gzip("From: a@example.com\n\n" + std::string(5000, 'x') + "\n");
  auto items = ReadAll(t.Write("m.eml.gz", gz.substr(0, gz.size() - 5)));
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].error.message().find("cut short") != std::string::npos);
  BOOST_TEST(items[0].bytes.empty());
}

// Issue 17 item 4: an empty file, and an mbox entry that is only a "From " line, hold no
// message; numbering keeps counting entries.
BOOST_AUTO_TEST_CASE(empty_inputs_hold_no_message) {
  TempDir t;
  BOOST_TEST(ReadAll(t.Write("zero", "")).empty());
  BOOST_TEST(ReadAll(t.Write("from-only", "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n")).empty());
  const std::string path = t.Write(
      "gap", "From a Sat Jan  3 01:05:34 1996\n\nFrom b Sat Jan  3 01:05:34 1996\nFrom: b@x.example\n\nb\n");
  auto items = ReadAll(path);
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].name == path + ":2");
}

// Issue 17 item 6: Maildir++ subfolders give notices, or are read when asked; a maildir's
// cur/ alone is read.
BOOST_AUTO_TEST_CASE(maildir_subfolders_and_cur_alone) {
  TempDir t;
  t.Write("md/cur/1", "Subject: a\n\n");
  t.Write("md/.Archive/new/2", "Subject: b\n\n");
  t.Write("md/.plain/x", "not a maildir\n");
  const std::string md = (t.path / "md").string();
  auto items = ReadAll(md);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0].name == md + "/.Archive");
  BOOST_TEST(items[0].notice.find("not read") != std::string::npos);
  BOOST_TEST(items[1].name == md + "/cur/1");
  SourceOptions o;
  o.maildir_subfolders = true;
  items = ReadAll(md, o);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0].name == md + "/cur/1");
  BOOST_TEST(items[1].name == md + "/.Archive/new/2");
  BOOST_TEST(items[1].notice.empty());
  items = ReadAll(md + "/cur");
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].bytes == "Subject: a\n\n");
  BOOST_TEST(!OpenMessageSource(md + "/.plain").ok());
}

// A 0-byte file in a maildir is named (an error item) and the files after it are read:
// SingleSource's "no message" at the end of an empty file was taken for the end of the
// whole maildir, so every file sorted after it (and every subfolder) went unread.
BOOST_AUTO_TEST_CASE(maildir_empty_file_is_named_and_the_rest_read) {
  TempDir t;
  t.Write("md/cur/1700000001.a:2,S", "Subject: a\n\n");
  t.Write("md/cur/1700000002.b:2,S", "");
  t.Write("md/cur/1700000003.c:2,S", "Subject: c\n\n");
  t.Write("md/new/1700000004.d", "Subject: d\n\n");
  t.Write("md/.Archive/cur/1", "Subject: e\n\n");
  const std::string md = (t.path / "md").string();
  SourceOptions o;
  o.maildir_subfolders = true;
  auto items = ReadAll(md, o);
  BOOST_REQUIRE_EQUAL(items.size(), 5u);
  BOOST_TEST(items[0].bytes == "Subject: a\n\n");
  BOOST_TEST(items[1].name == md + "/cur/1700000002.b:2,S");
  BOOST_TEST(items[1].error.message().find("an empty file (0 bytes)") != std::string::npos,
             items[1].error.ToString());
  BOOST_TEST(items[2].bytes == "Subject: c\n\n");
  BOOST_TEST(items[3].bytes == "Subject: d\n\n");
  BOOST_TEST(items[4].bytes == "Subject: e\n\n");
  // Sorted first, it hid the whole maildir.
  t.Write("md/cur/1600000000.empty:2,S", "");
  items = ReadAll(md, o);
  BOOST_REQUIRE_EQUAL(items.size(), 6u);
  BOOST_TEST(!items[0].error.ok());
  BOOST_TEST(items[5].bytes == "Subject: e\n\n");
}

// Maildir folders that cannot be read are named, never taken for empty: cur/ as a symbolic
// link loop, a dangling symbolic link in cur/, new/ without permission (as a user that is not
// root: root reads it anyway), a Maildir++ subfolder that cannot be looked into.
BOOST_AUTO_TEST_CASE(maildir_folders_that_cannot_be_read_are_named) {
  TempDir t;
  t.Write("md/new/1", "Subject: n\n\n");
  fs::create_symlink("cur2", t.path / "md/cur");
  fs::create_symlink("cur", t.path / "md/cur2");
  const std::string md = (t.path / "md").string();
  auto items = ReadAll(md);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0].name == md + "/cur");
  BOOST_TEST(items[0].error.message().find("cannot be listed") != std::string::npos,
             items[0].error.ToString());
  BOOST_TEST(items[1].bytes == "Subject: n\n\n");

  t.Write("md2/cur/1", "Subject: a\n\n");
  fs::create_symlink("/nonexistent/x", t.path / "md2/cur/2");
  const std::string md2 = (t.path / "md2").string();
  items = ReadAll(md2);
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0].bytes == "Subject: a\n\n");
  BOOST_TEST(items[1].name == md2 + "/cur/2");
  BOOST_TEST(items[1].error.message().find("leads nowhere") != std::string::npos,
             items[1].error.ToString());

  if (geteuid() == 0) return;  // root reads what permissions deny (the integration test
                               // runs this part as nobody)
  t.Write("md3/cur/1", "Subject: a\n\n");
  t.Write("md3/new/2", "Subject: b\n\n");
  t.Write("md3/.Locked/cur/3", "Subject: c\n\n");
  fs::permissions(t.path / "md3/new", fs::perms::none);
  fs::permissions(t.path / "md3/.Locked", fs::perms::none);
  const std::string md3 = (t.path / "md3").string();
  SourceOptions o;
  o.maildir_subfolders = true;
  items = ReadAll(md3, o);
  fs::permissions(t.path / "md3/new", fs::perms::owner_all);
  fs::permissions(t.path / "md3/.Locked", fs::perms::owner_all);
  BOOST_REQUIRE_EQUAL(items.size(), 3u);
  BOOST_TEST(items[1].name == md3 + "/new");
  BOOST_TEST(!items[1].error.ok());
  BOOST_TEST(items[2].name == md3 + "/.Locked");
  BOOST_TEST(!items[2].error.ok());
}

// An mbox with empty lines (LF or CRLF) or a UTF-8 byte order mark before its first "From "
// line: they are skipped and said, and the messages split as without them (read as one
// message, the whole file was judged as a single message).
BOOST_AUTO_TEST_CASE(mbox_after_empty_lines_or_a_byte_order_mark) {
  TempDir t;
  const std::vector<std::string> leads = {"\n", "\r\n", "\n\n\r\n", "\xEF\xBB\xBF",
                                          "\xEF\xBB\xBF\n", std::string(60000, '\n')};
  for (const std::string& lead : leads) {
    const std::string path = t.Write("box", lead + kMbox);
    auto items = ReadAll(path);
    BOOST_REQUIRE_EQUAL(items.size(), 3u);
    BOOST_TEST(items[0].name == path);
    BOOST_TEST(items[0].notice.find("before the first 'From ' line: skipped") !=
                   std::string::npos,
               items[0].notice);
    BOOST_TEST(items[1].name == path + ":1");
    BOOST_TEST(items[1].envelope_from == "alice@example.com");
    BOOST_TEST(items[2].bytes == "From: bob@example.org\n\nbody two\n");
  }
  // A message that starts with an empty line stays one message, as stored.
  auto items = ReadAll(t.Write("m.eml", "\nFrom: a@b.example\n\nhi\n"));
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].bytes == "\nFrom: a@b.example\n\nhi\n");
}

// xz, bzip2 and zstd files (an mbox, a message, a Dovecot zlib-plugin maildir file) are an
// error naming the format and how to read them, not one message of garbage.
BOOST_AUTO_TEST_CASE(other_compressions_are_named) {
  TempDir t;
  const std::string xz = std::string("\xFD" "7zXZ\0\0\4\xE6\xD6\xB4\x46", 12) + "garbage";
  const std::string bz2 = std::string("BZh91AY&SY") + "garbage";
  const std::string zst = std::string("\x28\xB5\x2F\xFD\x24\x00", 6) + "garbage";
  for (const auto& [name, data] : {std::pair<std::string, std::string>{"xz", xz},
                                  {"bzip2", bz2},
                                  {"zstd", zst}}) {
    const std::string path = t.Write("box." + name, data);
    auto src = OpenMessageSource(path);
    BOOST_REQUIRE(!src.ok());
    BOOST_TEST(src.status().message() ==
                   path + ": " + name + "-compressed (credence decompresses gzip only): " +
                       "decompress it first, e.g. `" + name + " -dc " + path +
                       " | credence verify -`",
               src.status().message());
    t.Write("md/cur/" + name, data);
  }
  auto items = ReadAll((t.path / "md").string());
  BOOST_REQUIRE_EQUAL(items.size(), 3u);
  for (const SourceItem& i : items) {
    BOOST_TEST(i.error.message().find("-compressed (credence decompresses gzip only)") !=
                   std::string::npos,
               i.error.ToString());
  }
  // "BZh" in a text is no bzip2 file.
  items = ReadAll(t.Write("m.eml", "BZh9 is a word\n\nbody\n"));
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].error.ok());
}

// A plain mbox cut while it is read (shorter at the end than when opened): the message the
// end cuts is an error item, not judged as if whole (as for a gzip file cut short).
BOOST_AUTO_TEST_CASE(mbox_that_shrinks_while_read_cuts_the_last_message) {
  TempDir t;
  const std::string mbox = ManyMessages(2000);  // ~460 KB: read in several chunks
  const std::string path = t.Write("box", mbox);
  Result<std::unique_ptr<MessageSource>> src = OpenMessageSource(path);
  BOOST_REQUIRE(src.ok());
  const size_t cut = mbox.size() / 2 + 100;
  fs::resize_file(path, cut);
  std::vector<SourceItem> items;
  SourceItem item;
  while ((*src)->Next(&item)) items.push_back(item);
  BOOST_REQUIRE(!items.empty());
  const SourceItem& last = items.back();
  BOOST_TEST(last.bytes.empty());
  BOOST_TEST(last.error.message().find("the file shrank while it was read: " +
                                       std::to_string(mbox.size()) + " bytes when opened") !=
                 std::string::npos,
             last.error.ToString());
  BOOST_TEST(last.error.message().find("not judged, the message is cut short") == 0u);
  for (size_t i = 0; i + 1 < items.size(); ++i) BOOST_TEST(items[i].error.ok());
  // A single message file alike.
  const std::string one = t.Write("m.eml", "From: a@b.example\n\n" + std::string(300000, 'x'));
  src = OpenMessageSource(one);
  BOOST_REQUIRE(src.ok());
  fs::resize_file(one, 1000);
  BOOST_REQUIRE((*src)->Next(&item));
  BOOST_TEST(item.error.message().find("shrank") != std::string::npos, item.error.ToString());
}

BOOST_AUTO_TEST_CASE(message_address) {
  TempDir t;
  const std::string box = t.Write("box.mbox", kMbox);
  const std::string maildir_name = t.Write("cur/1700000000.x:2,S", "Subject: a\n\n");
  std::string path;
  uint64_t n = 0;
  BOOST_TEST(SplitMessageAddress(box + ":42", &path, &n));
  BOOST_TEST(path == box);
  BOOST_TEST(n == 42u);
  BOOST_TEST(!SplitMessageAddress(box, &path, &n));          // the file itself
  BOOST_TEST(!SplitMessageAddress(maildir_name, &path, &n));  // a file whose name has ':'
  BOOST_TEST(!SplitMessageAddress(box + ":0", &path, &n));
  BOOST_TEST(!SplitMessageAddress(box + ":x", &path, &n));
  BOOST_TEST(!SplitMessageAddress(box + ":", &path, &n));
  BOOST_TEST(!SplitMessageAddress(box + ":99999999999999999999", &path, &n));
  BOOST_TEST(!SplitMessageAddress((t.path / "none.mbox:1").string(), &path, &n));
  BOOST_TEST(!SplitMessageAddress(t.path.string() + ":1", &path, &n));  // a directory
}
// mutt's mbox (mbox_type=mbox): no quoting, a Content-Length per message, an empty line after
// each message.
BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace credence
