// The store implementations, each behind its own door (sqlite_store.cc includes SQLite,
// postgres_store.cc includes libpq); store.cc chooses one by URI.
#ifndef CREDENCE_POLICY_HISTORY_STORES_H_
#define CREDENCE_POLICY_HISTORY_STORES_H_

#include <memory>
#include <string>

#include "credence/policy/history.h"

namespace credence::history {

Result<std::unique_ptr<HistoryStore>> OpenSqliteStore(const std::string& path,
                                                      const HistoryOptions& options);
Result<std::unique_ptr<HistoryStore>> OpenPostgresStore(const std::string& uri,
                                                        const HistoryOptions& options);
std::unique_ptr<HistoryStore> MakeMemoryStore();

}  // namespace credence::history

#endif  // CREDENCE_POLICY_HISTORY_STORES_H_
