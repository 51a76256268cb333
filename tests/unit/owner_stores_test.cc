// Which store paths a caller could redirect, and the owner-only open (issue #14, item 3). The
// suite runs as root, as gssgated does; other uids own files through chown.

#include "daemon/owner_stores.h"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

  EXPECT_EQ(open_as_owner(home + "/none", user, "x").status().code(),
            absl::StatusCode::kNotFound);
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

}  // namespace
}  // namespace gssgate::daemon
