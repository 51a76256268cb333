#include "daemon/policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gssgate::daemon {
namespace {

using ::testing::HasSubstr;

// A caller whose process was pinned, with `cgroup` and `exe` read from it.
Peer pinned(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}, std::string cgroup = "",
            std::string exe = "", std::string sha256 = "") {
  Peer peer;
  peer.listener = "grpc";  // [daemon]'s socket, where the policies below have no [[listener]]
  peer.uid = uid;
  peer.gid = gid;
  peer.groups = std::move(groups);
  peer.cgroup = std::move(cgroup);
  peer.exe = std::move(exe);
  peer.exe_sha256 = std::move(sha256);
  peer.pinned = true;
  return peer;
}

std::string rule_name(const Config& config, const Peer& peer) {
  const RuleMatch match = match_rule(config, peer);
  return match.rule == nullptr ? "(none)" : match.rule->name;
}

constexpr char kIds[] = R"(
[[rule]]
name = "web"
uids = [33, 34]
users = ["root"]
usages = ["accept"]
keytab = "/k"

[[rule]]
name = "batch"
gids = [100]
usages = ["initiate"]
client_keytab = "/c"
)";

TEST(PolicyTest, FirstMatchingRuleWinsByUidThenGroupsIncludingSupplementary) {
  auto config = parse_config(kIds, "ids.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(rule_name(*config, pinned(33, 5000)), "web");
  EXPECT_EQ(rule_name(*config, pinned(0, 0)), "web");  // uid before the later group rule
  EXPECT_EQ(rule_name(*config, pinned(5000, 100)), "batch");
  EXPECT_EQ(rule_name(*config, pinned(5000, 5000, {7, 100})), "batch");
  EXPECT_EQ(rule_name(*config, pinned(5000, 5000, {7})), "(none)");
  // Rules by ids alone match a caller whose process could not be pinned.
  Peer unpinned = pinned(33, 1);
  unpinned.pinned = false;
  EXPECT_EQ(rule_name(*config, unpinned), "web");
}

// Issue 17, section 3: a caller is matched against the rules of the listener it came through.
TEST(PolicyTest, OnlyTheRulesOfTheCallersListenerApply) {
  auto config = parse_config(R"(
[[listener]]
name = "host"
path = "/run/gssgate/gssgate.sock"

[[listener]]
name = "containers"
path = "/run/gssgate/containers/gssgate.sock"
rules = ["pods"]

[[rule]]
name = "web"
uids = [33]
usages = ["accept"]
keytab = "/k"

[[rule]]
name = "pods"
uids = [33, 1000]
cgroups = ["/kubepods/**"]
usages = ["initiate"]
ccache = "MEMORY:pods"
)",
                             "listeners.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  Peer in_pod = pinned(33, 33, {}, "/kubepods/pod1/c1");
  in_pod.listener = "host";
  EXPECT_EQ(rule_name(*config, in_pod), "web") << "the host socket has every rule, first wins";
  in_pod.listener = "containers";
  EXPECT_EQ(rule_name(*config, in_pod), "pods");
  Peer on_host = pinned(33, 33, {}, "/system.slice/apache2.service");
  on_host.listener = "containers";
  EXPECT_EQ(rule_name(*config, on_host), "(none)") << "web does not apply on containers";
  on_host.listener = "host";
  EXPECT_EQ(rule_name(*config, on_host), "web");

  // The connection's policy question: on the containers socket only "pods" can take uid 33, and
  // it selects by cgroup, so the process must be read first; on the host socket "web" takes it.
  Peer unread;
  unread.uid = 33;
  unread.gid = 33;
  unread.listener = "containers";
  EXPECT_EQ(admit(*config, unread).verdict, Admission::kNeedsProcess);
  unread.listener = "host";
  EXPECT_EQ(admit(*config, unread).verdict, Admission::kRule);
  unread.uid = 5000;
  unread.listener = "containers";
  EXPECT_EQ(admit(*config, unread).verdict, Admission::kNoRule);

  // A connection whose listener the policy does not have matches nothing, and says why.
  in_pod.listener = "gone";
  const RuleMatch match = match_rule(*config, in_pod);
  EXPECT_EQ(match.rule, nullptr);
  EXPECT_THAT(match.why_not, HasSubstr("listener \"gone\", which the policy file no longer has"));
  unread.uid = 33;
  unread.listener = "gone";
  EXPECT_EQ(admit(*config, unread).verdict, Admission::kNoRule);
}

TEST(PolicyTest, CgroupPatternsSelectAloneOrNarrowIds) {
  auto config = parse_config(R"(
[[rule]]
name = "web-in-docker"
uids = [10080]
cgroups = ["/system.slice/docker-*.scope"]
usages = ["accept"]
keytab = "/k"

[[rule]]
name = "any-pod"
cgroups = ["/kubepods/**"]
usages = ["accept"]
keytab = "/k"
)",
                             "cg.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(rule_name(*config, pinned(10080, 1, {}, "/system.slice/docker-abc.scope")),
            "web-in-docker");
  // The uid outside the cgroup, or the cgroup with another uid, is not "web-in-docker".
  EXPECT_EQ(rule_name(*config, pinned(10080, 1, {}, "/user.slice/session-1.scope")), "(none)");
  EXPECT_EQ(rule_name(*config, pinned(10081, 1, {}, "/system.slice/docker-abc.scope")), "(none)");
  // A pattern alone selects; /** takes every cgroup below; an unknown cgroup matches no pattern.
  EXPECT_EQ(rule_name(*config, pinned(5, 5, {}, "/kubepods/burstable/pod1/c1")), "any-pod");
  EXPECT_EQ(rule_name(*config, pinned(5, 5, {}, "")), "(none)");
  EXPECT_THAT(describe(*config), HasSubstr("cgroups {/kubepods/**}"));
  auto bad = parse_config(
      "[[rule]]\ncgroups = [\"docker\"]\nusages = [\"accept\"]\nkeytab = \"/k\"\n", "bad.toml");
  ASSERT_FALSE(bad.ok());
}

// Issue #14, item 6: a * never crosses '/'.
TEST(PolicyTest, CgroupPatternsNeverLetAStarCrossASlash) {
  EXPECT_TRUE(cgroup_matches("/system.slice/docker-*.scope", "/system.slice/docker-abc.scope"));
  EXPECT_FALSE(cgroup_matches("/system.slice/*", "/system.slice/evil.slice/docker-x.scope"));
  EXPECT_FALSE(cgroup_matches("/kubepods*", "/kubepods/burstable/pod1/c1"));
  EXPECT_TRUE(cgroup_matches("/kubepods/**", "/kubepods/burstable/pod1/c1"));
  EXPECT_TRUE(cgroup_matches("/kubepods/**", "/kubepods/pod1"));
  EXPECT_FALSE(cgroup_matches("/kubepods/**", "/kubepods"));
  EXPECT_FALSE(cgroup_matches("/kubepods/**", "/kubepodsX/pod1"));
  EXPECT_TRUE(cgroup_matches("/kubepods/*/pod*/**", "/kubepods/burstable/pod1/c1"));
  EXPECT_FALSE(cgroup_matches("/kubepods/*/pod*/**", "/kubepods/burstable/x/pod1/c1"));
  EXPECT_TRUE(executable_matches("/usr/lib/jvm/*/bin/java", "/usr/lib/jvm/jdk17/bin/java"));
  EXPECT_FALSE(executable_matches("/usr/lib/jvm/*/bin/java", "/usr/lib/jvm/a/b/bin/java"));
  EXPECT_FALSE(executable_matches("/usr/sbin/apache2", "/usr/sbin/apache2 (deleted)"));
  EXPECT_FALSE(executable_matches("/usr/sbin/*", ""));
  EXPECT_TRUE(executable_matches("/opt/app/**", "/opt/app/bin/x"));
}

TEST(PolicyTest, SystemdUnitIsThePathFromTheFirstServiceOrScope) {
  EXPECT_EQ(systemd_unit_of("/system.slice/apache2.service"), "apache2.service");
  EXPECT_EQ(systemd_unit_of("/user.slice/user-1000.slice/user@1000.service/app.slice/x.service"),
            "user@1000.service/app.slice/x.service");
  EXPECT_EQ(systemd_unit_of("/user.slice/user-1000.slice/session-3.scope"), "session-3.scope");
  EXPECT_EQ(systemd_unit_of("/system.slice/docker-0a1b.scope"), "docker-0a1b.scope");
  // A service with cgroups of its own below (Delegate=): the unit and the path below it.
  EXPECT_EQ(systemd_unit_of("/system.slice/gssgated.service/payload"), "gssgated.service/payload");
  EXPECT_EQ(systemd_unit_of("/system.slice"), "");
  EXPECT_EQ(systemd_unit_of("/kubepods/burstable/pod1/c1"), "");
  EXPECT_EQ(systemd_unit_of(""), "");
  // Only after slices from the root: a container manager's own tree, where what is inside the
  // container names its cgroups, is no unit of the host's systemd (review of issue 17).
  EXPECT_EQ(systemd_unit_of("/lxc.payload.c1/system.slice/apache2.service"), "");
  EXPECT_EQ(systemd_unit_of("/kubepods/burstable/pod1/apache2.service"), "");
  EXPECT_EQ(systemd_unit_of("/docker/0a1b/system.slice/apache2.service"), "");
  EXPECT_EQ(systemd_unit_of("/../apache2.service"), "");
  EXPECT_EQ(systemd_unit_of("/system.slice/../apache2.service"), "");
  EXPECT_EQ(systemd_unit_of("/.slice/apache2.service"), "");
  EXPECT_EQ(systemd_unit_of("/system.slice/.service"), "");
  // systemd's escaping of a name that could be a kernel file, and the other unit types it runs
  // processes in.
  EXPECT_EQ(systemd_unit_of("/system.slice/_cpu.service"), "cpu.service");
  EXPECT_EQ(systemd_unit_of("/system.slice/gssgated.socket"), "gssgated.socket");
  EXPECT_EQ(systemd_unit_of("/system.slice/home.mount"), "home.mount");
  // A user's own manager delegates below user@UID.service: what the user names there stays under
  // it, so "apache2.service" is not the system's.
  EXPECT_EQ(systemd_unit_of("/user.slice/user-1000.slice/user@1000.service/apache2.service"),
            "user@1000.service/apache2.service");
}

constexpr char kProcessRules[] = R"(
[[rule]]
name = "apache"
systemd_units = ["apache2.service"]
executables = ["/usr/sbin/apache2"]
usages = ["accept"]
keytab = "/k"

[[rule]]
name = "user-apps"
uids = [1000]
systemd_units = ["user@1000.service/app.slice/*"]
usages = ["initiate"]
ccache = "MEMORY:x"

[[rule]]
name = "pinned-tool"
executable_sha256 = ["BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"]
usages = ["initiate"]
ccache = "MEMORY:x"
)";

TEST(PolicyTest, ProcessMatchersMustAllMatchAndFailClosedWhenUnpinned) {
  auto config = parse_config(kProcessRules, "process.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string apache_cg = "/system.slice/apache2.service";
  EXPECT_EQ(rule_name(*config, pinned(33, 33, {}, apache_cg, "/usr/sbin/apache2")), "apache");
  // Another binary in apache's unit, or apache's binary in another unit, is not "apache".
  EXPECT_EQ(rule_name(*config, pinned(33, 33, {}, apache_cg, "/usr/bin/python3")), "(none)");
  EXPECT_EQ(
      rule_name(*config, pinned(33, 33, {}, "/system.slice/cron.service", "/usr/sbin/apache2")),
      "(none)");
  // Units below user@1000.service/app.slice, for uid 1000 only.
  const std::string app = "/user.slice/user-1000.slice/user@1000.service/app.slice/sync.service";
  EXPECT_EQ(rule_name(*config, pinned(1000, 1000, {}, app, "/usr/bin/x")), "user-apps");
  EXPECT_EQ(rule_name(*config, pinned(1001, 1000, {}, app, "/usr/bin/x")), "(none)");
  // The digest is lowercased at load; any path with that content matches.
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_EQ(rule_name(*config, pinned(7, 7, {}, "/x.scope", "/tmp/anything", abc)), "pinned-tool");
  EXPECT_EQ(rule_name(*config, pinned(7, 7, {}, "/x.scope", "/tmp/anything", std::string(64, '0'))),
            "(none)");

  // Fail closed: a caller whose process could not be pinned matches none of them, and the match
  // says why.
  Peer unpinned = pinned(33, 33, {}, apache_cg, "/usr/sbin/apache2");
  unpinned.pinned = false;
  unpinned.unpinned_why = "its pid is 0: it runs in a pid namespace gssgated cannot see";
  RuleMatch match = match_rule(*config, unpinned);
  EXPECT_EQ(match.rule, nullptr);
  EXPECT_THAT(match.why_not, HasSubstr("pid namespace"));
  // Pinned, but the digest could not be taken: no digest rule matches, and the reason is kept.
  Peer no_digest = pinned(7, 7, {}, "/x.scope", "/tmp/anything");
  no_digest.exe_why = "gssgated cannot open /proc/9/exe to hash it (Permission denied)";
  match = match_rule(*config, no_digest);
  EXPECT_EQ(match.rule, nullptr);
  EXPECT_THAT(match.why_not, HasSubstr("cannot open /proc/9/exe"));
  EXPECT_THAT(match_rule(*config, pinned(5, 5, {}, "/x.scope", "/bin/sh", "")).why_not,
              HasSubstr("before rules matched by executable_sha256 (reconnect)"));
  // A program whose path could not be confirmed (a container's) still matches by digest.
  EXPECT_EQ(rule_name(*config, pinned(5, 5, {}, "/x.scope", "", abc)), "pinned-tool");
  // A caller that simply matches nothing gets no reason about pinning.
  EXPECT_EQ(
      match_rule(*config, pinned(5, 5, {}, "/x.scope", "/bin/sh", std::string(64, '1'))).why_not,
      "");

  const std::string text = describe(*config);
  EXPECT_THAT(text, HasSubstr("systemd_units {apache2.service} executables {/usr/sbin/apache2}"));
  EXPECT_THAT(text, HasSubstr("executable_sha256 {" + abc + "}"));
}

TEST(PolicyTest, ProcessMatcherValuesAreCheckedAtLoad) {
  const auto rule = [](const std::string& line) {
    return parse_config("[[rule]]\n" + line + "\nusages = [\"accept\"]\nkeytab = \"/k\"\n",
                        "bad.toml");
  };
  EXPECT_TRUE(rule("executables = [\"/usr/sbin/apache2\"]").ok());
  auto relative = rule("executables = [\"apache2\"]");
  ASSERT_FALSE(relative.ok());
  EXPECT_THAT(relative.status().message(), HasSubstr("bad.toml:2:"));
  EXPECT_THAT(relative.status().message(), HasSubstr("executables takes absolute paths"));
  auto short_digest = rule("executable_sha256 = [\"abc\"]");
  ASSERT_FALSE(short_digest.ok());
  EXPECT_THAT(short_digest.status().message(), HasSubstr("64 hex digits"));
  EXPECT_FALSE(rule("executable_sha256 = [\"" + std::string(63, 'a') + "g\"]").ok());
  auto cgroup_as_unit = rule("systemd_units = [\"/system.slice/apache2.service\"]");
  ASSERT_FALSE(cgroup_as_unit.ok());
  EXPECT_THAT(cgroup_as_unit.status().message(), HasSubstr("systemd unit names"));
  auto nobody = parse_config("[[rule]]\nname = \"x\"\nusages = [\"accept\"]\n", "n.toml");
  ASSERT_FALSE(nobody.ok());
  EXPECT_THAT(nobody.status().message(), HasSubstr("executables or executable_sha256"));
}

// Admission at accept: a rule by process is worth reading the process for only if its ids admit
// the caller, and the digest only if a digest rule's ids do.
TEST(PolicyTest, AdmissionReadsTheProcessOnlyForRulesWhoseIdsAdmitTheCaller) {
  auto config = parse_config(R"(
[[rule]]
name = "web"
uids = [33]
executables = ["/usr/sbin/apache2"]
usages = ["accept"]
keytab = "/k"

[[rule]]
name = "tool"
uids = [1000]
executable_sha256 = ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"]
usages = ["initiate"]
ccache = "MEMORY:x"

[[rule]]
name = "ops"
uids = [0]
usages = ["initiate"]
ccache = "MEMORY:x"
)",
                             "admit.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  Peer unread;
  unread.listener = "grpc";
  unread.uid = 33;
  unread.gid = 33;
  Admission a = admit(*config, unread);
  EXPECT_EQ(a.verdict, Admission::kNeedsProcess);
  EXPECT_TRUE(a.exe);
  EXPECT_FALSE(a.digest);
  unread.uid = 1000;
  a = admit(*config, unread);
  EXPECT_EQ(a.verdict, Admission::kNeedsProcess);
  EXPECT_TRUE(a.exe);
  EXPECT_TRUE(a.digest);
  unread.uid = 0;
  a = admit(*config, unread);
  EXPECT_EQ(a.verdict, Admission::kRule);
  EXPECT_FALSE(a.exe);
  EXPECT_FALSE(a.digest);
  // A rule that takes the caller by ids alone hides every rule after it: uid 1000 in group 7 is
  // "ops-group"'s before "tool" can look at its digest.
  auto ordered = parse_config(R"(
[[rule]]
name = "ops-group"
gids = [7]
usages = ["initiate"]
ccache = "MEMORY:x"

[[rule]]
name = "tool"
uids = [1000]
executable_sha256 = ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"]
usages = ["initiate"]
ccache = "MEMORY:x"
)",
                              "ordered.toml");
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  unread.uid = 1000;
  unread.gid = 7;
  a = admit(*ordered, unread);
  EXPECT_EQ(a.verdict, Admission::kRule);
  EXPECT_FALSE(a.digest);
  // Nobody's ids: refused before anything is read.
  unread.uid = 4242;
  a = admit(*config, unread);
  EXPECT_EQ(a.verdict, Admission::kNoRule);
  EXPECT_FALSE(a.digest);
  // Once read: the rule decides; a pinned caller that matches none is refused.
  EXPECT_EQ(admit(*config, pinned(33, 33, {}, "/", "/usr/sbin/apache2")).verdict, Admission::kRule);
  EXPECT_EQ(admit(*config, pinned(33, 33, {}, "/", "/bin/sh")).verdict, Admission::kNoRule);
}

// The digest is of the file's bytes, and taken again when the file changes; a file changed in the
// last 2 s is not hashed at all (its change time could not tell a later change within the same
// tick).
TEST(PolicyTest, ExecutableDigestIsTheFilesSha256AndFollowsChanges) {
  char path[] = "/tmp/gssgate-policy-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abc", 3), 3);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  auto fresh = executable_sha256(fd, st, 4242);
  ASSERT_FALSE(fresh.ok());
  EXPECT_THAT(fresh.status().message(), HasSubstr("changed less than 2 s ago"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto first = executable_sha256(fd, st, 4242);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  // Changed, with the modification time set back as its owner may (review of issue 17: the cache
  // once took that for the same file and answered the old digest).
  const struct stat before = st;
  ASSERT_EQ(pwrite(fd, "abe", 3, 0), 3);
  timespec restore[2] = {{0, UTIME_OMIT}, before.st_mtim};
  ASSERT_EQ(futimens(fd, restore), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  ASSERT_EQ(st.st_mtim.tv_sec, before.st_mtim.tv_sec);
  ASSERT_EQ(st.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_FALSE(executable_sha256(fd, st, 4242).ok()) << "not the cached digest of \"abc\"";
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto second = executable_sha256(fd, st, 4242);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(*second, *first);
  EXPECT_EQ(second->size(), 64u);
  close(fd);
  unlink(path);
}

// A rule as granted to one caller: its rights, and its stores expanded for that caller's uid.
TEST(PolicyTest, AGrantExpandsTheRulesStoresForItsCallerAndRefusesWhatTheRuleLacks) {
  auto config = parse_config(R"(
[[rule]]
name = "batch"
uids = [0, 4242]
usages = ["initiate"]
client_keytab = "/etc/gssgate/clients/%U.keytab"
ccache = "FILE:/var/lib/gssgate/%u/krb5cc"
export_context = true
)",
                             "grant.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const Rule& rule = config->rules[0];
  const Grant root(rule, 0);
  EXPECT_TRUE(root.has(Right::kInitiate));
  EXPECT_TRUE(root.has(Right::kExportContext));
  EXPECT_FALSE(root.has(Right::kAccept));
  EXPECT_FALSE(root.has(Right::kAdmin));
  EXPECT_FALSE(root.store(Store::kKeytab).has_value()) << "the rule names no keytab";
  ASSERT_TRUE(root.store(Store::kClientKeytab).has_value());
  EXPECT_EQ(*root.store(Store::kClientKeytab).value(), "/etc/gssgate/clients/0.keytab");
  EXPECT_EQ(*root.store(Store::kCcache).value(), "FILE:/var/lib/gssgate/root/krb5cc");
  // A uid without a user name: %U works, %u is an error that says so.
  const Grant nameless(rule, 4242);
  EXPECT_EQ(*nameless.store(Store::kClientKeytab).value(), "/etc/gssgate/clients/4242.keytab");
  const absl::StatusOr<std::string>& ccache = nameless.store(Store::kCcache).value();
  ASSERT_FALSE(ccache.ok());
  EXPECT_THAT(ccache.status().message(), HasSubstr("uid 4242 has no user name for %u"));
  EXPECT_EQ(refusal(rule, 4242, Right::kAccept, "accepting security contexts"),
            "policy rule \"batch\" does not grant accept to uid 4242 (needed for accepting "
            "security contexts); an administrator can add \"accept\" to its usages");
  EXPECT_EQ(refusal(rule, 0, Right::kAdmin, "reloading the policy"),
            "policy rule \"batch\" does not grant admin to uid 0 (needed for reloading the "
            "policy); an administrator can set admin = true in it");
}

}  // namespace
}  // namespace gssgate::daemon
