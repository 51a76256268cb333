// The registry of exported context tokens (Service::remember/take_exported_context).

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/service.h"
#include "gtest/gtest.h"

namespace gssgate::daemon {
namespace {

// Issue #14, item 4: each uid has its own slots, so a uid churning exports cannot evict another
// uid's token; and a token is bound to the call that exported it (uid, rule, cgroup).
TEST(ExportedTokensTest, OneUidChurningCannotEvictAnothersAndBindingsMustMatch) {
  HandleTable table;
  Service service(std::make_shared<const Config>(), &table);
  service.remember_exported_context(1000, "uid=1000 rule=a", "mac-of-alice");
  for (size_t i = 0; i < Service::kMaxExportedTokensPerUid + 100; ++i) {
    service.remember_exported_context(2000, "uid=2000 rule=b", absl::StrCat("churn-", i));
  }
  // The churner's oldest went; its newest and the other uid's token stay.
  EXPECT_FALSE(service.take_exported_context(2000, "uid=2000 rule=b", "churn-0"));
  EXPECT_TRUE(service.take_exported_context(
      2000, "uid=2000 rule=b", absl::StrCat("churn-", Service::kMaxExportedTokensPerUid + 99)));
  // Not under another rule, nor for another uid; once under its own binding, and only once.
  EXPECT_FALSE(service.take_exported_context(1000, "uid=1000 rule=other", "mac-of-alice"));
  EXPECT_FALSE(service.take_exported_context(2000, "uid=1000 rule=a", "mac-of-alice"));
  EXPECT_TRUE(service.take_exported_context(1000, "uid=1000 rule=a", "mac-of-alice"));
  EXPECT_FALSE(service.take_exported_context(1000, "uid=1000 rule=a", "mac-of-alice"));
}

}  // namespace
}  // namespace gssgate::daemon
