// A libspf2 DNS layer (SPF_dns_server_t) that answers from credence's Resolver, so SPF sees
// the same zone, cache and c-ares as DKIM and DMARC, and so the RFC 7208 §4.6.4 limits can be
// counted where the questions are asked. Private to verifier/spf.
#ifndef CREDENCE_VERIFIER_SPF_DNS_LAYER_H_
#define CREDENCE_VERIFIER_SPF_DNS_LAYER_H_

#include "spf/session.h"

struct SPF_dns_server_struct;

namespace credence::spf {

// Returns a new layer bound to `session` (which must outlive it), or nullptr when out of
// memory. Free it with SPF_dns_free (or let the SPF_server_t that owns it do so).
SPF_dns_server_struct* NewResolverDnsLayer(Session* session);

}  // namespace credence::spf

#endif  // CREDENCE_VERIFIER_SPF_DNS_LAYER_H_
