#include "common/regex.h"

#include <re2/re2.h>

namespace credence {

struct Regex::Impl {
  explicit Impl(std::string_view pattern, const RE2::Options& o)
      : re(re2::StringPiece(pattern.data(), pattern.size()), o) {}
  RE2 re;
};

Result<Regex> Regex::Compile(std::string_view pattern, const RegexOptions& options) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_case_sensitive(options.case_sensitive);
  o.set_max_mem(options.max_mem);
  auto impl = std::make_shared<const Impl>(pattern, o);
  if (!impl->re.ok()) {
    return Status::Invalid(impl->re.error());
  }
  Regex r;
  r.impl_ = std::move(impl);
  r.pattern_ = std::string(pattern);
  return r;
}

bool Regex::FullMatch(std::string_view text) const {
  return impl_ && RE2::FullMatch(re2::StringPiece(text.data(), text.size()), impl_->re);
}

bool Regex::PartialMatch(std::string_view text) const {
  return impl_ && RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), impl_->re);
}

}  // namespace credence
