// The test realm fixture itself: a real krb5kdc on loopback, isolated configuration, principals,
// keytabs, kinit, stop/restart, clean teardown and failures that say what went wrong.

#include "tests/fixtures/mini_kdc.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gssgate::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<MiniKdc> start_or_die() {
  auto kdc = MiniKdc::start();
  EXPECT_TRUE(kdc.ok()) << kdc.status();
  return kdc.ok() ? std::move(*kdc) : nullptr;
}

absl::StatusOr<RunResult> klist(const MiniKdc& kdc, const std::string& ccache) {
  auto tool = find_tool("klist", "krb5-user");
  if (!tool.ok()) return tool.status();
  return run({*tool, "-f", "-c", ccache}, kdc.env());
}

TEST(MiniKdcTest, ServesARealmOnAFreeLoopbackPortWithConfigInsideItsDirectory) {
  auto kdc = start_or_die();
  ASSERT_TRUE(kdc);
  EXPECT_TRUE(kdc->kdc_running());
  EXPECT_GT(kdc->port(), 0);
  EXPECT_NE(kdc->port(), 88);
  for (const char* var : {"KRB5_CONFIG", "KRB5_KDC_PROFILE", "KRB5CCNAME", "KRB5_KTNAME",
                          "KRB5_CLIENT_KTNAME", "KRB5RCACHEDIR"}) {
    ASSERT_TRUE(kdc->env().contains(var)) << var;
    std::string value = kdc->env().at(var);
    if (absl::StartsWith(value, "FILE:")) value = value.substr(5);
    EXPECT_THAT(value, StartsWith(kdc->dir())) << var;
  }
  std::string conf = kdc->krb5_conf();
  ASSERT_TRUE(std::filesystem::exists(conf));
}

TEST(MiniKdcTest, TwoRealmsRunSideBySideOnDifferentPorts) {
  auto a = start_or_die();
  auto b = start_or_die();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->port(), b->port());
  EXPECT_NE(a->dir(), b->dir());
  ASSERT_TRUE(a->add_principal_with_password("u", "pw-a").ok());
  ASSERT_TRUE(b->add_principal_with_password("u", "pw-b").ok());
  // Each realm's tools talk to its own KDC only: b's password is wrong in a.
  EXPECT_TRUE(a->kinit_with_password("u", "pw-a", a->path("cc")).ok());
  EXPECT_FALSE(a->kinit_with_password("u", "pw-b", a->path("cc")).ok());
}

TEST(MiniKdcTest, KinitWithPasswordAndWithKeytabGiveForwardableTickets) {
  auto kdc = start_or_die();
  ASSERT_TRUE(kdc);
  ASSERT_TRUE(kdc->add_principal_with_password("alice", "secret-1").ok());
  ASSERT_TRUE(kdc->add_principal_with_random_key("svc/localhost").ok());
  std::string keytab = kdc->path("svc.keytab");
  ASSERT_TRUE(kdc->export_keytab(keytab, {"svc/localhost"}, 0640).ok());
  struct stat st {};
  ASSERT_EQ(stat(keytab.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);

  std::string cc1 = "FILE:" + kdc->path("alice.cc");
  ASSERT_TRUE(kdc->kinit_with_password("alice", "secret-1", cc1).ok());
  auto listed = klist(*kdc, cc1);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->exit_code, 0) << listed->output;
  EXPECT_THAT(listed->output, HasSubstr("Default principal: alice@GSSGATE.TEST"));
  EXPECT_THAT(listed->output, HasSubstr("krbtgt/GSSGATE.TEST@GSSGATE.TEST"));
  EXPECT_THAT(listed->output, ContainsRegex("Flags: F[A-Z]*I")) << "forwardable, initial";

  std::string cc2 = "FILE:" + kdc->path("svc.cc");
  ASSERT_TRUE(kdc->kinit_with_keytab("svc/localhost", keytab, cc2).ok());
  listed = klist(*kdc, cc2);
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(listed->output, HasSubstr("Default principal: svc/localhost@GSSGATE.TEST"));
}

TEST(MiniKdcTest, FailedStepsNameTheStepAndShowTheToolOutput) {
  auto kdc = start_or_die();
  ASSERT_TRUE(kdc);
  ASSERT_TRUE(kdc->add_principal_with_password("alice", "secret-1").ok());
  absl::Status s = kdc->kinit_with_password("alice", "wrong", kdc->path("cc"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("step 'kinit alice@GSSGATE.TEST' failed"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Password incorrect"));

  s = kdc->add_principal_with_password("alice", "again");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("addprinc alice@GSSGATE.TEST"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("already exists"));

  s = kdc->add_principal_with_random_key("bad\"name");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(MiniKdcTest, StopAndRestartServeTheSameRealmOnTheSamePort) {
  auto kdc = start_or_die();
  ASSERT_TRUE(kdc);
  ASSERT_TRUE(kdc->add_principal_with_password("alice", "secret-1").ok());
  int port = kdc->port();
  ASSERT_TRUE(kdc->stop().ok());
  EXPECT_FALSE(kdc->kdc_running());
  absl::Status s = kdc->kinit_with_password("alice", "secret-1", kdc->path("cc"));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("Cannot contact any KDC"));

  ASSERT_TRUE(kdc->restart().ok());
  EXPECT_EQ(kdc->port(), port);
  EXPECT_TRUE(kdc->kinit_with_password("alice", "secret-1", kdc->path("cc")).ok());
}

TEST(MiniKdcTest, AKdcThatCannotStartReportsTheStepAndItsLog) {
  auto kdc = start_or_die();
  ASSERT_TRUE(kdc);
  ASSERT_TRUE(kdc->stop().ok());
  // Without the stash the KDC cannot decrypt its database and exits at start.
  ASSERT_EQ(unlink(kdc->path("stash").c_str()), 0);
  absl::Status s = kdc->restart();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("step 'krb5kdc start' failed"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("KDC log:"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("master key"));
}

TEST(MiniKdcTest, DestructionStopsTheKdcAndRemovesTheDirectory) {
  auto kdc = start_or_die();
  ASSERT_TRUE(kdc);
  pid_t pid = kdc->kdc_pid();
  std::string dir = kdc->dir();
  ASSERT_EQ(kill(pid, 0), 0);
  kdc.reset();
  // The fixture reaped its child, so the pid no longer names a process of ours.
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(MiniKdcTest, AnExistingDirectoryIsRefused) {
  auto kdc = start_or_die();
  ASSERT_TRUE(kdc);
  MiniKdcOptions options;
  options.dir = kdc->dir();
  auto second = MiniKdc::start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("must not exist"));
  EXPECT_TRUE(std::filesystem::exists(kdc->krb5_conf())) << "the first realm is untouched";
}

}  // namespace
}  // namespace gssgate::testing
