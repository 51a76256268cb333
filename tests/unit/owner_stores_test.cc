// Which store paths a caller could redirect, and the owner-only open (issue #14, item 3). The
// suite runs as root, as gssgated does; other uids own files through chown.

#include "daemon/owner_stores.h"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/gss/krb5.h"

namespace gssgate::daemon {
namespace {

using ::testing::HasSubstr;

constexpr uid_t kUser = 60020;
constexpr uid_t kOther = 60021;

class OwnerStoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (chown), as the suite has";
    char dir_template[] = "/tmp/gssgate-owner-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string mkdir_owned(const std::string& name, mode_t mode, uid_t uid) {
    const std::string path = absl::StrCat(dir_, "/", name);
    EXPECT_EQ(mkdir(path.c_str(), 0700), 0) << path;
    EXPECT_EQ(chown(path.c_str(), uid, 0), 0) << path;
    EXPECT_EQ(chmod(path.c_str(), mode), 0) << path;
    return path;
  }
  std::string file(const std::string& path, uid_t uid, mode_t mode = 0600) {
    std::ofstream(path) << "contents";
    EXPECT_EQ(chown(path.c_str(), uid, 0), 0) << path;
    EXPECT_EQ(chmod(path.c_str(), mode), 0) << path;
    return path;
  }
  std::string dir_;
};

// A keytab file (MIT's format 0x0502) with one aes256 entry for HTTP/localhost@R of `kvno`.
std::string keytab_file(uint8_t kvno) {
  std::string e;
  auto u16 = [&](uint16_t v) {
    e.push_back(static_cast<char>(v >> 8));
    e.push_back(static_cast<char>(v & 0xff));
  };
  auto u32 = [&](uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v & 0xffff));
  };
  auto counted = [&](const std::string& s) {
    u16(static_cast<uint16_t>(s.size()));
    e += s;
  };
  u16(2);  // components
  counted("R");
  counted("HTTP");
  counted("localhost");
  u32(1);  // KRB5_NT_PRINCIPAL
  u32(0);  // timestamp
  e.push_back(static_cast<char>(kvno));
  u16(18);  // aes256-cts-hmac-sha1-96
  counted(std::string(32, static_cast<char>(kvno)));
  const std::string body = e;
  e.clear();
  u32(static_cast<uint32_t>(body.size()));
  return std::string("\x05\x02", 2) + e + body;
}

std::vector<krb5_kvno> kvnos(const std::string& keytab) {
  std::vector<krb5_kvno> out;
  auto ctx = gss::Krb5Context::create();
  if (!ctx.ok()) return out;
  auto entries = gss::list_keytab(*ctx, keytab);
  if (!entries.ok()) return out;
  for (const auto& entry : *entries) out.push_back(entry.kvno);
  return out;
}

TEST(StoreFileTest, NamesTheFileOfFileStoresOnly) {
  EXPECT_EQ(store_file("FILE:/a/b"), "/a/b");
  EXPECT_EQ(store_file("WRFILE:/a/b"), "/a/b");
  EXPECT_EQ(store_file("/a/b"), "/a/b");
  EXPECT_EQ(store_file("/a/b:c"), "/a/b:c");
  EXPECT_EQ(store_file("MEMORY:x"), "");
  EXPECT_EQ(store_file("KEYRING:persistent:1000"), "");
  EXPECT_EQ(store_file("DIR:/a"), "");
}

TEST_F(OwnerStoresTest, OnlyPathsRootAloneControlsAreGivenToMit) {
  std::string why;
  const std::string root_dir = mkdir_owned("root", 0755, 0);
  EXPECT_FALSE(redirectable(file(root_dir + "/k", kUser), &why)) << why;
  EXPECT_FALSE(redirectable(root_dir + "/not-yet", &why)) << "only root can create it: " << why;

  const std::string user_dir = mkdir_owned("user", 0700, kUser);
  EXPECT_TRUE(redirectable(file(user_dir + "/k", kUser), &why));
  EXPECT_THAT(why, HasSubstr(absl::StrCat(user_dir, " belongs to uid ", kUser)));

  const std::string open_dir = mkdir_owned("open", 0777, 0);
  EXPECT_TRUE(redirectable(file(open_dir + "/k", 0), &why));
  EXPECT_THAT(why, HasSubstr(open_dir + " is writable by others"));
  EXPECT_TRUE(redirectable(open_dir + "/not-yet", &why));

  // A sticky directory (/tmp): an entry root owns is fixed, one a user owns is not, and a name
  // not taken yet can be taken by anyone.
  const std::string sticky = mkdir_owned("sticky", 01777, 0);
  const std::string fixed = absl::StrCat(sticky, "/fixed");
  ASSERT_EQ(mkdir(fixed.c_str(), 0755), 0);
  EXPECT_FALSE(redirectable(file(fixed + "/k", kUser), &why)) << why;
  EXPECT_TRUE(redirectable(file(sticky + "/krb5cc_60020", kUser), &why));
  EXPECT_TRUE(redirectable(sticky + "/krb5cc_60021", &why));

  // Links: root's in a fixed directory are followed and checked; a user's is a redirection.
  const std::string root_link = root_dir + "/to-user";
  ASSERT_EQ(symlink(user_dir.c_str(), root_link.c_str()), 0);
  EXPECT_TRUE(redirectable(root_link + "/k", &why)) << "the target is the user's";
  const std::string root_link2 = root_dir + "/to-fixed";
  ASSERT_EQ(symlink("../sticky/fixed", root_link2.c_str()), 0);
  EXPECT_FALSE(redirectable(root_link2 + "/k", &why)) << why;
  const std::string user_link = fixed + "/by-user";
  ASSERT_EQ(symlink(root_dir.c_str(), user_link.c_str()), 0);
  ASSERT_EQ(lchown(user_link.c_str(), kUser, 0), 0);
  EXPECT_TRUE(redirectable(user_link + "/k", &why));
  EXPECT_THAT(why, HasSubstr("is a link of uid"));

  EXPECT_TRUE(redirectable("relative/k", &why));
}

TEST_F(OwnerStoresTest, OpenAsOwnerTakesOnlyARegularFileTheCallerOwnsAndCanRead) {
  const int groups_before = getgroups(0, nullptr);
  const std::string home = mkdir_owned("home", 0700, kUser);
  const StoreOwner user{kUser, kUser, {}};
  const std::string own = file(home + "/own", kUser);
  auto fd = open_as_owner(own, user, "keytab own");
  ASSERT_TRUE(fd.ok()) << fd.status();
  char buf[16];
  EXPECT_EQ(read(fd->get(), buf, sizeof(buf)), 8);

  const std::string secret = file(dir_ + "/secret", 0, 0600);
  const std::string link = home + "/link";
  ASSERT_EQ(symlink(secret.c_str(), link.c_str()), 0);
  auto linked = open_as_owner(link, user, "keytab link");
  EXPECT_EQ(linked.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(linked.status().message(), HasSubstr("keytab link is a symbolic link"));

  const std::string others = file(dir_ + "/others", kOther, 0600);
  auto unreadable = open_as_owner(others, user, "ccache others");
  EXPECT_EQ(unreadable.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(unreadable.status().message(), HasSubstr("cannot be read by uid 60020"));
  ASSERT_EQ(chmod(others.c_str(), 0644), 0);
  auto not_owned = open_as_owner(others, user, "ccache others");
  EXPECT_EQ(not_owned.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(not_owned.status().message(), HasSubstr("is not owned by uid 60020"));

  auto fifo_path = home + "/fifo";
  ASSERT_EQ(mkfifo(fifo_path.c_str(), 0600), 0);
  ASSERT_EQ(chown(fifo_path.c_str(), kUser, kUser), 0);
  auto fifo = open_as_owner(fifo_path, user, "ccache fifo");
  EXPECT_THAT(fifo.status().message(), HasSubstr("is not a regular file"));

  EXPECT_EQ(open_as_owner(home + "/none", user, "x").status().code(), absl::StatusCode::kNotFound);
  // After every path, success and errors alike, the thread has its own identity back.
  EXPECT_EQ(setfsuid(static_cast<uid_t>(-1)), 0);
  EXPECT_EQ(setfsgid(static_cast<gid_t>(-1)), 0);
  EXPECT_EQ(faccessat(AT_FDCWD, secret.c_str(), R_OK, AT_EACCESS), 0);
  EXPECT_EQ(getgroups(0, nullptr), groups_before);
}

TEST_F(OwnerStoresTest, ReplaceAsOwnerWritesAFileOfTheOwnersAndNeverFollowsALink) {
  const std::string home = mkdir_owned("home", 0700, kUser);
  const StoreOwner user{kUser, kUser, {}};
  const std::string secret = file(dir_ + "/secret", 0, 0600);
  const std::string target = home + "/krb5cc";
  ASSERT_EQ(symlink(secret.c_str(), target.c_str()), 0);
  ASSERT_TRUE(replace_as_owner(target, "new bytes", user, "ccache").ok());
  struct stat st;
  ASSERT_EQ(lstat(target.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_uid, kUser);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(secret);
  std::string kept((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(kept, "contents") << "the link's target is untouched";
  // A directory the owner may not write: refused, as the owner would be.
  auto denied = replace_as_owner(dir_ + "/x", "b", user, "ccache x");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied) << denied;
}

// The shared default acceptor credentials read a keytab only root controls from a MEMORY copy
// that follows the file: rewritten (even twice within one tick of the file clock, with the same
// size), replaced, broken or removed. A copy never changes once made. Everything else is given to
// MIT as it is.
TEST_F(OwnerStoresTest, ARootKeytabIsCopiedForTheSharedDefaultCredentialsAndFollowsItsFile) {
  const std::string root_dir = mkdir_owned("root", 0755, 0);
  const std::string path = root_dir + "/http.keytab";
  const std::string value = "FILE:" + path;
  const std::string copies = "MEMORY:gssgate-file-" + path + "#";
  const StoreOwner user{kUser, kUser, {}};
  auto write = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  };
  write(keytab_file(1));

  auto own = store_for_mit(user, "r", "keytab", value);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->value, value) << "a handle the caller keeps reads the file itself";
  EXPECT_FALSE(own->mirrored);
  for (const char* key : {"client_keytab", "ccache"}) {
    auto other = store_for_mit(user, "r", key, value, StoreUse::kSharedDefault);
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_EQ(other->value, value) << key;
  }

  auto first = store_for_mit(user, "r", "keytab", value, StoreUse::kSharedDefault);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->mirrored);
  EXPECT_THAT(first->value, ::testing::StartsWith(copies));
  EXPECT_NE(first->generation, 0u);
  EXPECT_THAT(kvnos(first->value), ::testing::ElementsAre(1u));
  auto again = store_for_mit(StoreOwner{kOther, kOther, {}}, "other-rule", "keytab", value,
                             StoreUse::kSharedDefault);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->value, first->value) << "one copy per file, whoever asks";
  EXPECT_EQ(again->generation, first->generation) << "unchanged file, same copy";

  // Rewritten at once with the same size: the file's times may not have moved (they move in clock
  // ticks), so a file changed moments ago is read again at every check. The first copy, held as
  // a credential holds its keytab, keeps its keys.
  auto held = gss::HeldKeytab::resolve(first->value);
  ASSERT_TRUE(held.ok()) << held.status();
  write(keytab_file(2));
  auto rewritten = store_for_mit(user, "r", "keytab", value, StoreUse::kSharedDefault);
  ASSERT_TRUE(rewritten.ok()) << rewritten.status();
  EXPECT_NE(rewritten->value, first->value);
  EXPECT_NE(rewritten->generation, first->generation);
  EXPECT_THAT(kvnos(rewritten->value), ::testing::ElementsAre(2u));
  EXPECT_THAT(kvnos(first->value), ::testing::ElementsAre(1u)) << "a copy never changes";

  // Touched (its times move, its contents do not): read again, and the same bytes keep the copy.
  const timespec past[2] = {{time(nullptr) - 3600, 0}, {time(nullptr) - 3600, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), past, 0), 0);
  auto touched = store_for_mit(user, "r", "keytab", value, StoreUse::kSharedDefault);
  ASSERT_TRUE(touched.ok()) << touched.status();
  EXPECT_EQ(touched->value, rewritten->value);
  EXPECT_EQ(touched->generation, rewritten->generation);

  // Broken, then gone: left to MIT, which says what it finds; no copy is handed out.
  write("not a keytab");
  auto broken = store_for_mit(user, "r", "keytab", value, StoreUse::kSharedDefault);
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_EQ(broken->value, value);
  EXPECT_FALSE(broken->mirrored);
  ASSERT_EQ(unlink(path.c_str()), 0);
  auto gone = store_for_mit(user, "r", "keytab", value, StoreUse::kSharedDefault);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->value, value);
  EXPECT_FALSE(gone->mirrored);

  // Back, as a new file (a rename over the path, as keytab tools do).
  const std::string next = root_dir + "/http.keytab.new";
  std::ofstream(next, std::ios::binary) << keytab_file(3);
  ASSERT_EQ(rename(next.c_str(), path.c_str()), 0);
  auto back = store_for_mit(user, "r", "keytab", value, StoreUse::kSharedDefault);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(back->value, ::testing::StartsWith(copies));
  EXPECT_GT(back->generation, rewritten->generation);
  EXPECT_THAT(kvnos(back->value), ::testing::ElementsAre(3u));

  // A keytab its callers could redirect is still read only as its owner (the owner's mirror).
  const std::string home = mkdir_owned("home", 0700, kUser);
  const std::string theirs = home + "/http.keytab";
  std::ofstream(theirs, std::ios::binary) << keytab_file(4);
  ASSERT_EQ(chown(theirs.c_str(), kUser, kUser), 0);
  auto owned = store_for_mit(user, "r", "keytab", "FILE:" + theirs, StoreUse::kSharedDefault);
  ASSERT_TRUE(owned.ok()) << owned.status();
  EXPECT_THAT(owned->value,
              ::testing::StartsWith(absl::StrCat("MEMORY:gssgate-owner-", kUser, "-r-keytab#")));
  EXPECT_THAT(kvnos(owned->value), ::testing::ElementsAre(4u));
}

// MIT walks a MEMORY keytab entry by entry, unlocked between entries (a nameless acceptor's
// accept does), so a copy changed in place under a walk would be read half old, half new, or
// freed under it. Rotations while walks run, of a root keytab (the shared default credentials'
// copy) and of a caller's own (its owner's mirror): every walk sees one key, whole (and ASan sees
// no use after free; with copies refilled in place this test crashed).
TEST_F(OwnerStoresTest, AWalkOverAKeytabCopyNeverSeesARotation) {
  const std::string root_dir = mkdir_owned("root", 0755, 0);
  const std::string home = mkdir_owned("home", 0700, kUser);
  const StoreOwner user{kUser, kUser, {}};
  for (const std::string& path : {root_dir + "/http.keytab", home + "/http.keytab"}) {
    SCOPED_TRACE(path);
    const std::string value = "FILE:" + path;
    auto rotate = [&](uint8_t kvno) {
      std::ofstream(path, std::ios::binary | std::ios::trunc) << keytab_file(kvno);
      EXPECT_EQ(chown(path.c_str(), kUser, kUser), 0);
      return store_for_mit(user, "r", "keytab", value, StoreUse::kSharedDefault);
    };
    auto first = rotate(1);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(first->mirrored);
    absl::Mutex mu;
    std::string current = first->value;
    std::atomic<bool> done{false};
    std::atomic<int> walks{0}, bad{0};
    std::thread walker([&] {
      auto ctx = gss::Krb5Context::create();
      while (ctx.ok() && !done.load()) {
        std::string name;
        {
          absl::MutexLock lock(&mu);
          name = current;
        }
        auto entries = gss::list_keytab(*ctx, name);
        // A copy already released is resolved afresh, empty.
        if (entries.ok() && entries->size() > 1) bad.fetch_add(1);
        walks.fetch_add(1);
      }
    });
    int rotations = 0;
    for (int i = 0; i < 200; ++i) {
      auto next = rotate(static_cast<uint8_t>(2 + i));
      if (!next.ok()) {
        ADD_FAILURE() << next.status();
        break;
      }
      absl::MutexLock lock(&mu);
      current = next->value;
      ++rotations;
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (walks.load() < 50 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    done = true;
    walker.join();
    EXPECT_EQ(rotations, 200);
    EXPECT_GE(walks.load(), 50) << "the walker ran";
    EXPECT_EQ(bad.load(), 0) << "walks that saw two keys at once";
  }
}

}  // namespace
}  // namespace gssgate::daemon
