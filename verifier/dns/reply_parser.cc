#include "dns/reply_parser.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "dns/dns_name.h"

namespace credence::dns_internal {

namespace {

constexpr size_t kHeaderSize = 12;
// More records than this in one reply is not a reply we want to walk.
constexpr unsigned kMaxRecords = 4096;

class Reader {
 public:
  Reader(const uint8_t* buf, size_t len) : buf_(buf), len_(len) {}

  bool U16(size_t* pos, uint16_t* out) const {
    if (*pos + 2 > len_) return false;
    *out = static_cast<uint16_t>(buf_[*pos] << 8 | buf_[*pos + 1]);
    *pos += 2;
    return true;
  }
  bool U32(size_t* pos, uint32_t* out) const {
    if (*pos + 4 > len_) return false;
    *out = static_cast<uint32_t>(buf_[*pos]) << 24 | static_cast<uint32_t>(buf_[*pos + 1]) << 16 |
           static_cast<uint32_t>(buf_[*pos + 2]) << 8 | buf_[*pos + 3];
    *pos += 4;
    return true;
  }

  // RFC 1035 §4.1.4: a name is labels ending in a zero octet or a pointer. A pointer must
  // point strictly backwards of the label that holds it, so the walk always ends; the result is
  // bounded by 255 wire octets. The normalised spelling of dns_name.h (lower-case, "." and
  // "\" escaped, other octets outside 0x21..0x7e as \DDD). On success *pos is past the name in
  // the record.
  bool Name(size_t* pos, std::string* out) const {
    out->clear();
    size_t p = *pos;
    size_t end_of_name = 0;  // where the caller resumes: after the first pointer, if any
    bool jumped = false;
    size_t wire = 0;
    size_t limit = p;  // pointers must go below this
    for (;;) {
      if (p >= len_) return false;
      uint8_t l = buf_[p];
      if ((l & 0xC0) == 0xC0) {
        if (p + 1 >= len_) return false;
        size_t target = static_cast<size_t>(l & 0x3F) << 8 | buf_[p + 1];
        if (!jumped) end_of_name = p + 2;
        jumped = true;
        if (target >= limit) return false;
        limit = target;
        p = target;
        continue;
      }
      if ((l & 0xC0) != 0) return false;  // RFC 6891 extended labels: not for us
      if (l == 0) {
        ++p;
        break;
      }
      if (p + 1 + l > len_) return false;
      wire += 1 + l;
      if (wire > 254) return false;
      if (!out->empty()) out->push_back('.');
      for (size_t i = 0; i < l; ++i) AppendNameOctet(buf_[p + 1 + i], out);
      p += 1 + l;
      if (!jumped) limit = p;  // keep pointers behind anything read so far
    }
    *pos = jumped ? end_of_name : p;
    return true;
  }

 private:
  const uint8_t* buf_;
  size_t len_;
};

struct WireRecord {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  size_t rdata = 0;  // offset of RDATA in the buffer
  uint16_t rdlength = 0;
};

DnsAnswer TempFail(std::string detail) {
  DnsAnswer a;
  a.outcome = DnsOutcome::kTempFail;
  a.detail = std::move(detail);
  return a;
}

DnsAnswer Malformed(std::string_view what) {
  return TempFail("malformed reply: " + std::string(what));
}

// Reads `count` records at *pos into `out` (if not null).
bool ReadRecords(const Reader& r, size_t len, size_t* pos, unsigned count,
                 std::vector<WireRecord>* out) {
  for (unsigned i = 0; i < count; ++i) {
    WireRecord rec;
    uint16_t rclass = 0;
    if (!r.Name(pos, &rec.owner)) return false;
    if (!r.U16(pos, &rec.type) || !r.U16(pos, &rclass) || !r.U32(pos, &rec.ttl) ||
        !r.U16(pos, &rec.rdlength)) {
      return false;
    }
    // RFC 2181 §8: a TTL with the top bit set is treated as zero.
    if (rec.ttl > 0x7FFFFFFFu) rec.ttl = 0;
    if (*pos + rec.rdlength > len) return false;
    rec.rdata = *pos;
    *pos += rec.rdlength;
    if (out) out->push_back(std::move(rec));
  }
  return true;
}

// Decodes the RDATA of `rec` into `out`. False when it does not fit its type.
bool DecodeRdata(const Reader& r, const uint8_t* buf, const WireRecord& rec, ResourceRecord* out) {
  size_t pos = rec.rdata;
  const size_t end = rec.rdata + rec.rdlength;
  out->type = static_cast<RRType>(rec.type);
  out->ttl = rec.ttl;
  switch (static_cast<RRType>(rec.type)) {
    case RRType::kA: {
      if (rec.rdlength != 4) return false;
      char text[INET_ADDRSTRLEN];
      if (!inet_ntop(AF_INET, buf + pos, text, sizeof text)) return false;
      out->data = text;
      return true;
    }
    case RRType::kAAAA: {
      if (rec.rdlength != 16) return false;
      char text[INET6_ADDRSTRLEN];
      if (!inet_ntop(AF_INET6, buf + pos, text, sizeof text)) return false;
      out->data = text;
      return true;
    }
    case RRType::kMX: {
      if (!r.U16(&pos, &out->preference)) return false;
      if (!r.Name(&pos, &out->data)) return false;
      return pos == end;
    }
    case RRType::kCNAME:
    case RRType::kNS:
    case RRType::kPTR:
      return r.Name(&pos, &out->data) && pos == end;
    case RRType::kTXT: {
      // RFC 1035 §3.3.14: one or more <character-string>s; RFC 6376 §3.6.2.2 and RFC 7208
      // §3.3: joined with nothing between.
      if (rec.rdlength == 0) return false;
      out->data.clear();
      out->txt_breaks.clear();
      while (pos < end) {
        size_t l = buf[pos];
        if (pos + 1 + l > end) return false;
        if (pos != rec.rdata) out->txt_breaks.push_back(static_cast<uint16_t>(out->data.size()));
        out->data.append(reinterpret_cast<const char*>(buf + pos + 1), l);
        pos += 1 + l;
      }
      return true;
    }
    case RRType::kSOA: {
      std::string mname, rname;
      if (!r.Name(&pos, &mname) || !r.Name(&pos, &rname)) return false;
      uint32_t v[5];
      for (uint32_t& x : v) {
        if (!r.U32(&pos, &x)) return false;
      }
      if (pos != end) return false;
      out->data = mname + " " + rname;
      for (uint32_t x : v) out->data += " " + std::to_string(x);
      return true;
    }
  }
  // Other types: raw RDATA, as the octets.
  out->data.assign(reinterpret_cast<const char*>(buf + pos), rec.rdlength);
  return true;
}

// Follows the CNAME chain from the asked name (RFC 1034 §3.6.2, §4.3.2) through `answers`,
// putting the records of `qtype` at its end into out->records and the smallest TTL of the
// CNAMEs followed into *chain_ttl. An error answer when a record does not decode or the chain
// is too long.
std::optional<DnsAnswer> FollowChain(const Reader& r, const uint8_t* buf,
                                     const std::vector<WireRecord>& answers,
                                     std::string_view qname, RRType qtype, DnsAnswer* out,
                                     uint32_t* chain_ttl) {
  std::string current(qname);
  for (int link = 0; link <= kMaxCnameLinks; ++link) {
    for (const WireRecord& rec : answers) {
      if (rec.type != static_cast<uint16_t>(qtype) || rec.owner != current) continue;
      ResourceRecord rr;
      if (!DecodeRdata(r, buf, rec, &rr)) {
        return Malformed(RRTypeName(qtype) + " record for " + current);
      }
      out->records.push_back(std::move(rr));
    }
    if (!out->records.empty() || qtype == RRType::kCNAME) break;
    const WireRecord* cname = nullptr;
    for (const WireRecord& rec : answers) {
      if (rec.type == static_cast<uint16_t>(RRType::kCNAME) && rec.owner == current) {
        cname = &rec;
        break;
      }
    }
    if (cname == nullptr) break;
    if (link == kMaxCnameLinks) return TempFail("CNAME chain longer than 8");
    ResourceRecord target;
    if (!DecodeRdata(r, buf, *cname, &target)) return Malformed("CNAME record");
    *chain_ttl = std::min(*chain_ttl, cname->ttl);
    current = target.data;
  }
  return std::nullopt;
}

// RFC 2308 §5: the negative TTL is the smaller of the SOA's TTL and its MINIMUM field. *ttl is
// left as it is without an SOA; false when the SOA does not decode.
bool NegativeTtl(const Reader& r, const std::vector<WireRecord>& authority, uint32_t* ttl) {
  for (const WireRecord& rec : authority) {
    if (rec.type != static_cast<uint16_t>(RRType::kSOA)) continue;
    size_t p = rec.rdata;
    std::string skip;
    uint32_t minimum = 0;
    if (!r.Name(&p, &skip) || !r.Name(&p, &skip) || p + 20 != rec.rdata + rec.rdlength) {
      return false;
    }
    p += 16;
    r.U32(&p, &minimum);
    *ttl = std::min(rec.ttl, minimum);
    return true;
  }
  return true;
}

}  // namespace

DnsAnswer ParseReply(const uint8_t* buf, size_t len, std::string_view qname, RRType qtype) {
  if (buf == nullptr || len < kHeaderSize) return Malformed("short header");
  Reader r(buf, len);
  size_t pos = 0;
  uint16_t id, flags, qdcount, ancount, nscount, arcount;
  r.U16(&pos, &id);
  r.U16(&pos, &flags);
  r.U16(&pos, &qdcount);
  r.U16(&pos, &ancount);
  r.U16(&pos, &nscount);
  r.U16(&pos, &arcount);
  (void)id;
  (void)arcount;
  if ((flags & 0x8000) == 0) return Malformed("not a response");
  if (flags & 0x0200) return TempFail("truncated reply");
  const unsigned rcode = flags & 0x000F;
  if (rcode == 2) return TempFail("SERVFAIL");
  // RFC 1035 §4.1.1: REFUSED, "the name server refuses to perform the specified operation
  // for policy reasons": in practice a server authoritative for other zones only, or one
  // that recurses for other clients. Still a temporary error, said so that an admin who
  // pointed credence at such a server reads why in the A-R reason and the log line.
  if (rcode == 5) return TempFail(std::string(kRefusedDetail));
  if (rcode != 0 && rcode != 3) return TempFail("RCODE " + std::to_string(rcode));
  if (qdcount != 1) return Malformed("question count " + std::to_string(qdcount));
  if (static_cast<unsigned>(ancount) + nscount > kMaxRecords) return Malformed("too many records");

  std::string asked;
  uint16_t qt, qc;
  if (!r.Name(&pos, &asked) || !r.U16(&pos, &qt) || !r.U16(&pos, &qc)) {
    return Malformed("question");
  }
  if (asked != qname || qt != static_cast<uint16_t>(qtype)) {
    return Malformed("question does not match");
  }

  std::vector<WireRecord> answers, authority;
  answers.reserve(ancount);
  if (!ReadRecords(r, len, &pos, ancount, &answers)) return Malformed("answer section");
  if (!ReadRecords(r, len, &pos, nscount, &authority)) return Malformed("authority section");

  DnsAnswer out;
  uint32_t chain_ttl = UINT32_MAX;
  if (std::optional<DnsAnswer> error = FollowChain(r, buf, answers, qname, qtype, &out, &chain_ttl)) {
    return *std::move(error);
  }
  if (!out.records.empty()) {
    // NXDOMAIN says the name asked (or the end of its CNAME chain, RFC 6604) does not exist:
    // records of the type asked there contradict it. Neither reading is safe (a record may
    // say +all, NXDOMAIN may make SPF none), so it is a temporary error, as pyspf says.
    if (rcode == 3) return Malformed("NXDOMAIN with records of the type asked");
    out.outcome = DnsOutcome::kOk;
    out.ttl = chain_ttl;
    for (const ResourceRecord& rr : out.records) out.ttl = std::min(out.ttl, rr.ttl);
    return out;
  }
  out.outcome = rcode == 3 ? DnsOutcome::kNxDomain : DnsOutcome::kNoData;
  if (!NegativeTtl(r, authority, &out.ttl)) return Malformed("SOA record");
  return out;
}

}  // namespace credence::dns_internal
