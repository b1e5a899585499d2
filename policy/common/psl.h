// The Public Suffix List (libpsl): the ONLY file pair that includes <libpsl.h>.
// Used for the RFC 7489 §3.2 organizational domain (OrgDomainMethod::kPsl).
#ifndef CREDENCE_POLICY_COMMON_PSL_H_
#define CREDENCE_POLICY_COMMON_PSL_H_

#include <memory>
#include <string>
#include <string_view>

#include "credence/status.h"

namespace credence {

class PublicSuffixList {
 public:
  // Loads a public_suffix_list.dat file. kIoError when it cannot be read or parsed.
  static Result<std::unique_ptr<PublicSuffixList>> Load(const std::string& path);
  ~PublicSuffixList();
  PublicSuffixList(const PublicSuffixList&) = delete;
  PublicSuffixList& operator=(const PublicSuffixList&) = delete;

  // The registrable domain (public suffix + one label) of `domain`, lower-cased; empty when
  // `domain` is itself a public suffix, is empty, or starts with a dot. ASCII is lower-cased
  // first; UTF-8 U-labels and A-labels are both understood (libpsl matches either form).
  std::string RegistrableDomain(std::string_view domain) const;
  // True when `domain` is a public suffix (ICANN or private section, "*" rule included).
  bool IsPublicSuffix(std::string_view domain) const;
  // The same with the list libpsl was built with (Debian's: the publicsuffix package of its
  // build), for when no file was loaded; false when the library has none.
  static bool IsBuiltinPublicSuffix(std::string_view domain);
  // Whether libpsl was built with a list of its own.
  static bool HasBuiltin();

 private:
  struct Ctx;
  explicit PublicSuffixList(Ctx* ctx) : ctx_(ctx) {}
  Ctx* ctx_;
};

}  // namespace credence

#endif  // CREDENCE_POLICY_COMMON_PSL_H_
