#include "serve/evaluate_handler.h"

#include "common/evaluation_json.h"
#include "credence/message.h"

namespace credence::serve {
namespace {

// RFC 8601 §5: A-R fields claiming our authserv-id are forgeries the host should remove.
// Milter-style hosts (rspamd) remove a field by its occurrence among fields of the same name
// (1 = topmost), not by its position among all fields: translate. (A-R fields are read past
// the header limits, so every one of them is counted.)
nlohmann::json ForgedOccurrences(const Message& message, const std::vector<size_t>& forged) {
  nlohmann::json out = nlohmann::json::array();
  size_t occurrence = 0;
  const auto& headers = message.headers();
  for (size_t i = 0; i < headers.size(); ++i) {
    if (!EqualsIgnoreCase(headers[i].name, "Authentication-Results")) continue;
    ++occurrence;
    for (size_t f : forged) {
      if (f == message.FieldPosition(i)) out.push_back(occurrence);
    }
  }
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

class EvaluateHandler final : public RequestHandler {
 public:
  EvaluateHandler(std::unique_ptr<Evaluator> evaluator, Resolver& resolver)
      : evaluator_(std::move(evaluator)), resolver_(resolver) {}

  // `body` may be a prefix: a request announcing more than --max-request-bytes keeps only its
  // first max-request-bytes bytes, and then body.size() < header.length, the announced size.
  // The prefix is judged as a cut message (fail closed): its DKIM body hashes are not
  // evaluated, the rest is judged, and the score gets CREDENCE_LIMIT.
  std::string Handle(const RequestHeader& header, std::string body) override {
    Result<Message> message = Message::Parse(
        body, evaluator_->options().limits, header.length > body.size() ? header.length : 0);
    // The message holds its own normalised copy: give the request's bytes back before the
    // evaluation allocates (a 64 MiB request would otherwise be held twice).
    std::string().swap(body);
    if (!message.ok()) {
      return ErrorJson("not_a_message", message.status().ToString(), header.id);
    }
    Envelope envelope;
    envelope.client_ip = header.client_ip;
    envelope.helo = header.helo;
    envelope.mail_from = header.mail_from;
    Evaluation ev = evaluator_->Evaluate(*message, envelope, resolver_);
    std::string remove = DumpJson(ForgedOccurrences(*message, ev.forged_authres));
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
};

}  // namespace

Result<std::unique_ptr<RequestHandler>> MakeEvaluateHandler(const EvaluatorOptions& options,
                                                            const Clock& clock,
                                                            Resolver& resolver) {
  Result<std::unique_ptr<Evaluator>> ev = Evaluator::Create(options, clock);
  if (!ev.ok()) return ev.status();
  return std::unique_ptr<RequestHandler>(
      std::make_unique<EvaluateHandler>(std::move(ev).value(), resolver));
}

}  // namespace credence::serve
