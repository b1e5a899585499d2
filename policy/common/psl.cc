#include "common/psl.h"

#include <libpsl.h>

#include "credence/message.h"

namespace credence {

struct PublicSuffixList::Ctx {
  psl_ctx_t* psl;
};

Result<std::unique_ptr<PublicSuffixList>> PublicSuffixList::Load(const std::string& path) {
  psl_ctx_t* psl = psl_load_file(path.c_str());
  if (psl == nullptr) return Status::IoError("cannot load public suffix list " + path);
  return std::unique_ptr<PublicSuffixList>(new PublicSuffixList(new Ctx{psl}));
}

PublicSuffixList::~PublicSuffixList() {
  psl_free(ctx_->psl);
  delete ctx_;
}

std::string PublicSuffixList::RegistrableDomain(std::string_view domain) const {
  if (domain.empty() || domain.front() == '.' || domain.size() > 253) return "";
  if (domain.find('\0') != std::string_view::npos) return "";
  std::string lower = ToLower(domain);
  while (!lower.empty() && lower.back() == '.') lower.pop_back();
  if (lower.empty()) return "";
  const char* reg = psl_registrable_domain(ctx_->psl, lower.c_str());
  return reg == nullptr ? std::string() : std::string(reg);
}

namespace {

bool IsSuffixIn(const psl_ctx_t* psl, std::string_view domain) {
  if (psl == nullptr || domain.empty() || domain.find('\0') != std::string_view::npos) {
    return false;
  }
  std::string lower = ToLower(domain);
  return psl_is_public_suffix2(psl, lower.c_str(), PSL_TYPE_ANY) != 0;
}

}  // namespace

bool PublicSuffixList::IsPublicSuffix(std::string_view domain) const {
  return IsSuffixIn(ctx_->psl, domain);
}

bool PublicSuffixList::HasBuiltin() { return psl_builtin() != nullptr; }

bool PublicSuffixList::IsBuiltinPublicSuffix(std::string_view domain) {
  return IsSuffixIn(psl_builtin(), domain);  // libpsl's own, never freed
}

}  // namespace credence
