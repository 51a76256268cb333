#include "daemon/handle_table.h"

#include <set>
#include <thread>
#include <vector>

#include "daemon/cred_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gssgate::daemon {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<Entry> cred_entry(Owner owner) {
  return std::make_shared<Entry>(owner, HandleKind::kCred);
}

TEST(HandleTableTest, HandlesAreSixteenRandomBytesBoundToTheirOwner) {
  HandleTable table;
  Owner alice{1000, 1};
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    auto id = table.insert(cred_entry(alice), 1000);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(id->size(), kHandleBytes);
    ids.insert(*id);
  }
  EXPECT_EQ(ids.size(), 100u) << "never reused";
  EXPECT_EQ(table.size(), 100u);
  const std::string& id = *ids.begin();
  EXPECT_TRUE(table.find(alice, id, HandleKind::kCred).ok());
  // Another uid, another connection of the same uid, the wrong kind and random bytes all get the
  // one NOT_FOUND.
  auto random = table.find(alice, std::string(16, '\x5a'), HandleKind::kCred);
  for (auto result : {table.find(Owner{1001, 1}, id, HandleKind::kCred),
                      table.find(Owner{1000, 2}, id, HandleKind::kCred),
                      table.find(alice, id, HandleKind::kContext)}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_EQ(table.find(Owner{1001, 1}, id, HandleKind::kCred).status(), random.status());
  auto malformed = table.find(alice, "abc", HandleKind::kCred);
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(malformed.status().message()), HasSubstr("3 bytes"));
}

TEST(HandleTableTest, EraseOnlyByTheOwner) {
  HandleTable table;
  Owner alice{1000, 1};
  auto id = table.insert(cred_entry(alice), 10);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(table.erase(Owner{1001, 1}, *id, HandleKind::kCred).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(table.erase(alice, *id, HandleKind::kCred).ok());
  EXPECT_EQ(table.erase(alice, *id, HandleKind::kCred).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.count_for_uid(1000), 0u);
}

TEST(HandleTableTest, QuotaIsPerUidAcrossConnectionsAndNamesTheLimit) {
  HandleTable table;
  ASSERT_TRUE(table.insert(cred_entry(Owner{7, 1}), 2).ok());
  ASSERT_TRUE(table.insert(cred_entry(Owner{7, 2}), 2).ok());
  auto third = table.insert(cred_entry(Owner{7, 3}), 2);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(third.status().message()), HasSubstr("max_handles = 2"));
  EXPECT_TRUE(table.insert(cred_entry(Owner{8, 3}), 2).ok()) << "other uids are unaffected";
  EXPECT_EQ(table.release_connection(1), 1u);
  EXPECT_TRUE(table.insert(cred_entry(Owner{7, 3}), 2).ok()) << "a release frees quota";
}

TEST(HandleTableTest, ReleaseConnectionRemovesExactlyThatConnectionsHandles) {
  HandleTable table;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(table.insert(cred_entry(Owner{1, 10}), 100).ok());
  auto keep = table.insert(cred_entry(Owner{1, 11}), 100);
  ASSERT_TRUE(keep.ok());
  EXPECT_EQ(table.release_connection(10), 5u);
  EXPECT_EQ(table.release_connection(10), 0u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(table.find(Owner{1, 11}, *keep, HandleKind::kCred).ok());
}

// Issue #14, item 4: a call still running when its connection closes must not leave a handle
// that nobody can reach until the idle expiry. Before the fix the insert after the close
// succeeded and the handle stayed.
TEST(HandleTableTest, AHandleMadeByACallRacingItsConnectionsCloseIsReleased) {
  HandleTable table;
  ASSERT_TRUE(table.insert(cred_entry(Owner{1, 20}), 100).ok());
  EXPECT_EQ(table.connection_closed(20), 1u);
  auto late = table.insert(cred_entry(Owner{1, 20}), 1);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(late.status().message()), HasSubstr("connection closed"));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(table.insert(cred_entry(Owner{1, 21}), 1).ok()) << "its quota was given back";
  // A process exit is not a close: the connection may live on in a child.
  EXPECT_EQ(table.release_connection(21), 1u);
  EXPECT_TRUE(table.insert(cred_entry(Owner{1, 21}), 1).ok());

  // The race itself: inserts on one connection while it closes. Whatever the interleaving, no
  // handle of the connection is left once both are done.
  for (uint64_t conn = 100; conn < 300; ++conn) {
    std::atomic<bool> go{false};
    std::thread caller([&] {
      while (!go.load()) {
      }
      for (int i = 0; i < 20; ++i) table.insert(cred_entry(Owner{2, conn}), 1000).IgnoreError();
    });
    go.store(true);
    table.connection_closed(conn);
    caller.join();
    ASSERT_EQ(table.count_for_uid(2), 0u) << "connection " << conn;
  }
}

TEST(HandleTableTest, IdleHandlesExpireAndUsedOnesStay) {
  HandleTable table;
  Owner o{1, 1};
  auto idle = table.insert(cred_entry(o), 10);
  auto used = table.insert(cred_entry(o), 10);
  ASSERT_TRUE(idle.ok() && used.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(table.find(o, *used, HandleKind::kCred).ok());  // touches it
  EXPECT_EQ(table.expire_idle(absl::Milliseconds(25)), 1u);
  EXPECT_FALSE(table.find(o, *idle, HandleKind::kCred).ok());
  EXPECT_TRUE(table.find(o, *used, HandleKind::kCred).ok());
}

TEST(HandleTableTest, ConcurrentInsertFindEraseKeepCountsExact) {
  HandleTable table;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&table, t] {
      Owner owner{static_cast<uid_t>(t), static_cast<uint64_t>(t)};
      std::vector<std::string> mine;
      for (int i = 0; i < kPerThread; ++i) {
        auto id = table.insert(cred_entry(owner), kPerThread);
        if (id.ok()) mine.push_back(*id);
      }
      for (size_t i = 0; i < mine.size(); i += 2) {
        EXPECT_TRUE(table.find(owner, mine[i], HandleKind::kCred).ok());
        EXPECT_TRUE(table.erase(owner, mine[i], HandleKind::kCred).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(table.size(), static_cast<size_t>(kThreads * kPerThread / 2));
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(table.count_for_uid(t), kPerThread / 2u);
}

// Issue #14, item 4: a cap on all callers' handles together, besides each rule's quota.
TEST(HandleTableTest, TheGlobalCapHoldsAcrossUidsAndFreesWithReleases) {
  HandleTable table;
  table.set_max_total(3);
  std::vector<std::string> ids;
  for (uid_t uid = 1; uid <= 3; ++uid) {
    auto id = table.insert(cred_entry(Owner{uid, uid}), 1000);
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  auto over = table.insert(cred_entry(Owner{4, 4}), 1000);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(over.status().message()), HasSubstr("max_handles_total = 3"));
  ASSERT_TRUE(table.erase(Owner{2, 2}, ids[1], HandleKind::kCred).ok());
  EXPECT_TRUE(table.insert(cred_entry(Owner{4, 4}), 1000).ok());
  EXPECT_EQ(table.release_connection(1), 1u);
  EXPECT_EQ(table.expire_idle(absl::ZeroDuration()), 2u);
  for (uid_t uid = 5; uid <= 7; ++uid)
    EXPECT_TRUE(table.insert(cred_entry(Owner{uid, uid}), 1000).ok());
}

// The shared default credentials (daemon/cred_cache.h) keep the first step's element check per
// mechanism, so a busy acceptor does not inquire its credential on every handshake.
TEST(CredCacheTest, ACachedCredentialRemembersEachMechanismsCheckedPrincipalApart) {
  CredCache cache;
  auto cred = std::make_shared<const CachedCred>(gss::CredHandle());
  cache.put("rule|accept", "|keytab", cred, absl::Minutes(5));
  CredCache::Cred got = cache.get("rule|accept", "|keytab");
  ASSERT_EQ(got, cred);
  EXPECT_FALSE(got->checked_element(gss::oids::krb5()).has_value()) << "nothing checked yet";
  got->remember_element(gss::oids::krb5(), "HTTP/web@EXAMPLE.COM");
  got->remember_element(gss::oids::spnego(), "");
  EXPECT_EQ(cred->checked_element(gss::oids::krb5()), "HTTP/web@EXAMPLE.COM");
  EXPECT_EQ(cred->checked_element(gss::oids::spnego()), "") << "a nameless acceptor element";
  EXPECT_FALSE(cred->checked_element(gss::oids::iakerb()).has_value());

  // A dropped or expired credential is acquired afresh, and so checked afresh.
  cache.drop(got);
  EXPECT_EQ(cache.get("rule|accept", "|keytab"), nullptr);
  cache.put("rule|accept", "|keytab", std::make_shared<const CachedCred>(gss::CredHandle()),
            absl::ZeroDuration());
  EXPECT_EQ(cache.get("rule|accept", "|keytab"), nullptr);
}

// A slot serves its credential only while the stores resolve to what it was made from, and a key
// has one slot: a file that keeps changing (a new copy each time) does not grow the cache.
TEST(CredCacheTest, ACredentialMadeFromAnotherCopyIsNotServedAndReplacesNothingButItsSlot) {
  CredCache cache;
  auto old_copy = std::make_shared<const CachedCred>(gss::CredHandle());
  cache.put("r|accept|keytab=FILE:/k", "|keytab>MEMORY:k#1", old_copy, absl::Minutes(5));
  EXPECT_EQ(cache.get("r|accept|keytab=FILE:/k", "|keytab>MEMORY:k#1"), old_copy);
  EXPECT_EQ(cache.get("r|accept|keytab=FILE:/k", "|keytab>MEMORY:k#2"), nullptr)
      << "the file changed: a fresh acquisition";
  EXPECT_EQ(cache.get("r|accept|keytab=FILE:/k", "|keytab>MEMORY:k#1"), nullptr)
      << "the stale slot went with the miss";
  auto new_copy = std::make_shared<const CachedCred>(gss::CredHandle());
  cache.put("r|accept|keytab=FILE:/k", "|keytab>MEMORY:k#2", new_copy, absl::Minutes(5));
  EXPECT_EQ(cache.get("r|accept|keytab=FILE:/k", "|keytab>MEMORY:k#2"), new_copy);
  // StoreCred drops a ccache's slots by the rule's value, whatever copy they were made from.
  cache.put("r|initiate|ccache=FILE:/c", "|ccache>MEMORY:c@3",
            std::make_shared<const CachedCred>(gss::CredHandle()), absl::Minutes(5));
  cache.erase_containing("ccache=FILE:/c");
  EXPECT_EQ(cache.get("r|initiate|ccache=FILE:/c", "|ccache>MEMORY:c@3"), nullptr);
  EXPECT_EQ(cache.get("r|accept|keytab=FILE:/k", "|keytab>MEMORY:k#2"), new_copy);
}

}  // namespace
}  // namespace gssgate::daemon
