// A thread-safe Resolver over several resolvers that are not: each Resolve call borrows an
// idle member (waiting while all are busy) and returns it afterwards. The service puts one
// c-ares resolver per worker behind it, and one shared TTL cache in front of it, so workers
// share a warm cache without serialising their DNS on one c-ares channel.
#ifndef CREDENCE_PLUGIN_SERVE_RESOLVER_POOL_H_
#define CREDENCE_PLUGIN_SERVE_RESOLVER_POOL_H_

#include <memory>
#include <vector>

#include "credence/dns.h"

namespace credence::serve {

// `members` must not be empty; the pool owns them. A call that cannot borrow a member before
// its deadline answers every question kTempFail with detail "deadline".
std::unique_ptr<Resolver> MakeResolverPool(std::vector<std::unique_ptr<Resolver>> members);

}  // namespace credence::serve

#endif  // CREDENCE_PLUGIN_SERVE_RESOLVER_POOL_H_
