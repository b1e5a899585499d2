#include "serve/evaluate_handler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/evaluation_json.h"
#include "credence/message.h"

namespace credence::serve {
namespace {

// RFC 8601 §5: A-R fields claiming our authserv-id are forgeries the host should remove.
// Milter-style hosts (rspamd) remove a field by its occurrence among fields of the same name
// (1 = topmost), not by its position among all fields: translate. (A-R fields are read past
// the header limits, so every one of them is counted.)
std::string ForgedOccurrences(const Message& message, const std::vector<size_t>& forged) {
  std::string out = "[";
  size_t occurrence = 0;
  const auto& headers = message.headers();
  for (size_t i = 0; i < headers.size(); ++i) {
    if (!EqualsIgnoreCase(headers[i].name, "Authentication-Results")) continue;
    ++occurrence;
    for (size_t f : forged) {
      if (f == message.FieldPosition(i)) {
        if (out.size() > 1) out.push_back(',');
        out += std::to_string(occurrence);
      }
    }
  }
  out.push_back(']');
  return out;
}

// The folded A-R value as milter hosts add it: LF + TAB between elements (libmilter's form of
// a folded header value), no line over 998 bytes, no leading white space.
std::string FoldedForMilter(std::string_view folded) {
  while (!folded.empty() && (folded.front() == ' ' || folded.front() == '\t')) {
    folded.remove_prefix(1);
  }
  std::string out;
  out.reserve(folded.size());
  for (size_t i = 0; i < folded.size(); ++i) {
    if (folded[i] == '\r' && i + 1 < folded.size() && folded[i + 1] == '\n') continue;
    out.push_back(folded[i]);
  }
  return out;
}

// Counts what one evaluation asked of the shared resolver, for the request log: questions
// (cached ones included), temporary failures, and the time spent waiting in Resolve, which is
// where a stalled DNS server shows.
class CountingResolver final : public Resolver {
 public:
  explicit CountingResolver(Resolver& inner) : inner_(inner) {}
  std::vector<DnsAnswer> Resolve(std::span<const DnsQuestion> questions,
                                 Deadline deadline) override {
    auto start = std::chrono::steady_clock::now();
    std::vector<DnsAnswer> got = inner_.Resolve(questions, deadline);
    waited_ += std::chrono::steady_clock::now() - start;
    questions_ += questions.size();
    for (const DnsAnswer& a : got) {
      if (a.outcome == DnsOutcome::kTempFail) ++tempfail_;
    }
    return got;
  }
  std::string LogFields() const {
    return "dns=" + std::to_string(questions_) + " dns_tempfail=" + std::to_string(tempfail_) +
           " dns_ms=" +
           std::to_string(
               std::chrono::duration_cast<std::chrono::milliseconds>(waited_).count());
  }

 private:
  Resolver& inner_;
  size_t questions_ = 0;
  size_t tempfail_ = 0;
  std::chrono::steady_clock::duration waited_{};
};

// Whole milliseconds of `d`, 0 when negative.
std::string Millis(std::chrono::steady_clock::duration d) {
  return std::to_string(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

// The request log's verdict fields (docs/serve.md, "The request log"): every DKIM result in
// header order (at most 8, then "+N"), SPF of the MAIL FROM, DMARC, the score, what limits
// left out, forged A-R fields, and "deadline=reached" when the answer was cut by the deadline
// (a stalled DNS server shows as that, with temperror results).
std::string LogFields(const Evaluation& ev, bool deadline_reached) {
  constexpr size_t kMaxDkim = 8;
  std::string out = "dkim=";
  if (ev.dkim.empty()) out += "none";
  for (size_t i = 0; i < ev.dkim.size() && i < kMaxDkim; ++i) {
    if (i > 0) out.push_back(',');
    out += DkimVerdictName(ev.dkim[i].result);
  }
  if (ev.dkim.size() > kMaxDkim) out += ",+" + std::to_string(ev.dkim.size() - kMaxDkim);
  out += " spf=";
  out += ev.spf_evaluated ? SpfVerdictName(ev.spf_mailfrom.result) : "none";
  out += " dmarc=";
  out += DmarcVerdictName(ev.dmarc.verdict);
  char score[32];
  std::snprintf(score, sizeof score, "%.2f", ev.score.score);
  out += " score=";
  out += score;
  out += " limits=" + std::to_string(ev.limits.size());
  out += " forged_ar=" + std::to_string(ev.forged_authres.size());
  if (deadline_reached) out += " deadline=reached";
  return out;
}

class EvaluateHandler final : public RequestHandler {
 public:
  EvaluateHandler(std::unique_ptr<Evaluator> evaluator, Resolver& resolver,
                  HistoryWriter* history)
      : evaluator_(std::move(evaluator)), resolver_(resolver), history_(history) {}

  // `body` may be a prefix: a request announcing more than --max-request-bytes keeps only its
  // first max-request-bytes bytes, and then body.size() < header.length, the announced size.
  // The prefix is judged as a cut message (fail closed): its DKIM body hashes are not
  // evaluated, the rest is judged, and the score gets CREDENCE_LIMIT.
  std::string Handle(const RequestHeader& header, std::string body) override {
    RequestContext context;
    context.accepted = std::chrono::steady_clock::now();
    return HandleRequest(header, std::move(body), context);
  }

  // The deadline: [limits] deadline from now, or sooner when the client said how long it
  // waits (context.answer_by, counted from its connect: time spent receiving the request and
  // waiting for a worker is already gone). DNS that has not answered by then is temperror,
  // which reaches the client as a verdict instead of the client's own timeout.
  std::string HandleRequest(const RequestHeader& header, std::string body,
                            RequestContext& context) override {
    const auto now = std::chrono::steady_clock::now();
    const auto full = evaluator_->options().limits.deadline;
    Deadline deadline = std::min(now + full, context.answer_by);
    // The time the request was to have, counted from its connect: when waiting for a worker
    // took more than half of it, the evaluation fails closed on what the lost time leaves
    // unknown (Envelope::host_limit), rather than score it as a DNS fault would.
    const auto intended = std::min<std::chrono::steady_clock::duration>(
        full, context.answer_by == RequestContext::TimePoint::max()
                  ? full
                  : context.answer_by - context.accepted);
    const bool late = deadline - now < intended / 2;
    Result<Message> message = Message::Parse(
        body, evaluator_->options().limits, header.length > body.size() ? header.length : 0);
    // The message holds its own normalised copy: give the request's bytes back before the
    // evaluation allocates (a 64 MiB request would otherwise be held twice).
    std::string().swap(body);
    if (!message.ok()) {
      context.outcome = "not_a_message";
      return ErrorJson("not_a_message", message.status().ToString(), header.id);
    }
    Envelope envelope;
    envelope.client_ip = header.client_ip;
    envelope.helo = header.helo;
    envelope.mail_from = header.mail_from;
    envelope.host_limit = header.dropped;
    if (late) {
      if (!envelope.host_limit.empty()) envelope.host_limit += "; ";
      envelope.host_limit +=
          "the service was busy (or the client's timeout= too short): the evaluation started "
          "with " + Millis(deadline - now) + " ms of its " + Millis(intended) + " ms left";
    }
    CountingResolver counting(resolver_);
    Evaluation ev = evaluator_->Evaluate(*message, envelope, counting, deadline);
    context.log_fields = LogFields(ev, std::chrono::steady_clock::now() >= deadline) + " " +
                         counting.LogFields();
    if (history_ != nullptr && HasReportableDmarc(ev)) {
      history_->Append(MakeHistoryRecord(ev, envelope, "", std::time(nullptr),
                                         evaluator_->options().dmarc.org_domain_method,
                                         LooksLikeDmarcReport(*message)));
    }
    std::string remove = ForgedOccurrences(*message, ev.forged_authres);
    std::string folded = FoldedForMilter(ev.authres.folded);
    const JsonMember extra[] = {JsonMember::Raw("remove_authentication_results", remove),
                                JsonMember::String("authentication_results_folded", folded),
                                JsonMember::String("id", header.id)};
    std::string out;
    AppendEvaluationJson(ev, std::span(extra, header.id.empty() ? 2 : 3), &out);
    return out;
  }

 private:
  std::unique_ptr<Evaluator> evaluator_;
  Resolver& resolver_;
  HistoryWriter* history_;
};

}  // namespace

Result<std::unique_ptr<RequestHandler>> MakeEvaluateHandler(const EvaluatorOptions& options,
                                                            const Clock& clock,
                                                            Resolver& resolver,
                                                            HistoryWriter* history) {
  Result<std::unique_ptr<Evaluator>> ev = Evaluator::Create(options, clock);
  if (!ev.ok()) return ev.status();
  return std::unique_ptr<RequestHandler>(
      std::make_unique<EvaluateHandler>(std::move(ev).value(), resolver, history));
}

}  // namespace credence::serve
