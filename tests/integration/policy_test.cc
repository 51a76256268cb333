// Issue 17, part 2: the rule matchers that read the caller's process (daemon/policy.h), against a
// real gssgated and real caller processes: the executable by path and by digest (copies of one
// binary, one of them altered), identity pinned at accept across an exec, the systemd unit of a
// real cgroup, and a daemon that cannot see its callers' pids.

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fixtures/cgroup.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class PolicyMatchersTest : public RealmTest {
 protected:
  // A copy of gssgate-test-caller at `dir`/gssgate-test-caller (+ `extra` bytes at its end: an
  // ELF file runs the same with bytes appended, and has another digest).
  std::string copy_caller(const std::string& dir, const std::string& extra = "") {
    const fs::path to = fs::path(kdc_->path(dir)) / "gssgate-test-caller";
    fs::create_directories(to.parent_path());
    fs::copy_file(caller_path(), to, fs::copy_options::overwrite_existing);
    if (!extra.empty()) std::ofstream(to, std::ios::app) << extra;
    return to.string();
  }
  static std::string caller_path() { return GssgatedProcess::caller_path(); }
  // The SHA-256 of `path` as coreutils computes it (an oracle independent of the daemon's).
  static std::string sha256sum(const std::string& path) {
    auto r = run({"/usr/bin/sha256sum", path}, {});
    if (!r.ok() || r->exit_code != 0) return "";
    return std::vector<std::string>(absl::StrSplit(r->output, ' '))[0];
  }
  // One WhoAmI over the wire socket by the program at `exe` (arguments after it).
  static std::string whoami(const std::vector<std::string>& argv) {
    auto r = run(argv, {{"PATH", "/usr/bin:/bin"}});
    return r.ok() ? r->output : std::string(r.status().message());
  }
  std::string rule(const std::string& name, const std::string& selectors) const {
    return absl::StrCat("[[rule]]\nname = \"", name, "\"\n", selectors,
                        "usages = [\"initiate\"]\nclient_keytab = \"", client_keytab_, "\"\n\n");
  }
};

TEST_F(PolicyMatchersTest, ExecutablesMatchByPathAndDigestsByContent) {
  const std::string allowed = copy_caller("bins/allowed");
  const std::string other = copy_caller("bins/other");
  const std::string altered = copy_caller("bins/altered", "altered");
  const std::string digest = sha256sum(caller_path());
  ASSERT_EQ(digest.size(), 64u);
  ASSERT_NE(sha256sum(altered), digest);
  // gssgated hashes no file changed in the last 2 s (policy.h, kRacySeconds): let the copies age.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto d = GssgatedProcess::start(
      *kdc_,
      rule("by-path", absl::StrCat("executables = [\"", kdc_->path("bins/allowed"), "/*\"]\n")) +
          rule("by-digest", absl::StrCat("executable_sha256 = [\"", digest, "\"]\n")));
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string wire = (*d)->wire_socket();

  // The path selects the first copy; the digest takes any copy with the same bytes.
  EXPECT_EQ(whoami({allowed, "--wire-whoami", wire}),
            absl::StrCat("OK rule=by-path executable=", allowed, " unit=\n"));
  EXPECT_EQ(whoami({other, "--wire-whoami", wire}),
            absl::StrCat("OK rule=by-digest executable=", other, " unit=\n"));
  // The same program with one change matches neither, and the refusal names the executable.
  const std::string refused = whoami({altered, "--wire-whoami", wire});
  EXPECT_THAT(refused, StartsWith("RPC code=7 no policy rule for uid 0"));
  EXPECT_THAT(refused, HasSubstr(absl::StrCat("executable ", altered, ")")));
  EXPECT_THAT((*d)->log(),
              HasSubstr(absl::StrCat("exe=\"", altered, "\" listener=\"wire\" outcome=denied")));

  // gRPC callers are matched the same way: the CLI is neither copy.
  auto cli = run({GSSGATE_CLI_PATH_FOR_TESTS, "--socket", (*d)->socket(), "whoami"},
                 {{"PATH", "/usr/bin:/bin"}});
  ASSERT_TRUE(cli.ok()) << cli.status();
  EXPECT_NE(cli->exit_code, 0);
  EXPECT_THAT(cli->output, HasSubstr(absl::StrCat("executable ", GSSGATE_CLI_PATH_FOR_TESTS)));
  EXPECT_TRUE((*d)->stop_cleanly().ok());
}

// What a process shows as its executable is its own mount namespace's path, and in a user
// namespace of its own it may set /proc/PID/exe itself: neither passes for the trusted program
// (review of issue 17: both once matched a rule by path).
TEST_F(PolicyMatchersTest, AnotherProgramMountedOverATrustedPathOrInItsOwnUserNamespaceIsRefused) {
  const std::string trusted = copy_caller("bins/trusted");
  const std::string other = copy_caller("bins/other", "other");
  auto d = GssgatedProcess::start(
      *kdc_, rule("trusted", absl::StrCat("executables = [\"", trusted, "\"]\n")));
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string wire = (*d)->wire_socket();
  auto unshare = find_tool("unshare", "util-linux");
  ASSERT_TRUE(unshare.ok()) << unshare.status();
  ASSERT_EQ(whoami({trusted, "--wire-whoami", wire}),
            absl::StrCat("OK rule=trusted executable=", trusted, " unit=\n"));

  // Another program bind-mounted over the trusted path in a mount namespace of the caller's.
  const std::string mounted = whoami(
      {*unshare, "--mount", "/bin/sh", "-c",
       "mount --bind \"$1\" \"$0\" && exec \"$0\" --wire-whoami \"$2\"", trusted, other, wire});
  EXPECT_THAT(mounted, StartsWith("RPC code=7 no policy rule for uid 0"));
  EXPECT_THAT(mounted, HasSubstr("is not the file at that path for gssgated"));

  // The trusted program itself, but in a user namespace of its own.
  const std::string userns =
      whoami({*unshare, "--user", "--map-root-user", trusted, "--wire-whoami", wire});
  EXPECT_THAT(userns, StartsWith("RPC code=7 no policy rule for uid 0"));
  EXPECT_THAT(userns, HasSubstr("user namespace of its own"));
  EXPECT_TRUE((*d)->stop_cleanly().ok());
}

// A daemon without the right to read other users' /proc/PID/exe (a service user, no
// capabilities) cannot know their executables: rules by executable refuse them and say why, while
// its own uid's programs and rules by cgroup still work.
TEST_F(PolicyMatchersTest, ADaemonThatCannotReadOtherUsersExecutablesRefusesThemByExecutable) {
  constexpr uid_t kServiceUid = 60071;
  constexpr gid_t kServiceGid = 60071;
  const std::string caller = copy_caller("bins/any");
  ASSERT_EQ(chmod(kdc_->path("bins").c_str(), 0755), 0);
  ASSERT_EQ(chmod(kdc_->path("bins/any").c_str(), 0755), 0);
  GssgatedOptions options;
  options.run_as_uid = kServiceUid;
  options.run_as_gid = kServiceGid;
  auto d =
      GssgatedProcess::start(*kdc_,
                             rule("by-exe", absl::StrCat("executables = [\"", caller, "\"]\n")) +
                                 rule("by-cgroup", "uids = [0]\ncgroups = [\"/**\", \"/\"]\n"),
                             options);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string out = whoami({caller, "--wire-whoami", (*d)->wire_socket()});
  // Root's program: its executable is unknown to the daemon, so only the cgroup rule takes it.
  EXPECT_THAT(out, StartsWith("OK rule=by-cgroup executable= unit="));
  ASSERT_TRUE(
      (*d)->reload(rule("by-exe", absl::StrCat("executables = [\"", caller, "\"]\n"))).ok());
  ASSERT_TRUE((*d)->wait_for_log("reloaded"));
  const std::string refused = whoami({caller, "--wire-whoami", (*d)->wire_socket()});
  EXPECT_THAT(refused, StartsWith("RPC code=7 no policy rule for uid 0"));
  EXPECT_THAT(refused, HasSubstr("rules by executable need gssgated to hold CAP_SYS_PTRACE"));
  EXPECT_TRUE((*d)->stop_cleanly().ok());
}

// The identity a connection has is the one its process had at accept: after an exec the new
// program keeps the connection and the rule, while its own new connections get its own.
TEST_F(PolicyMatchersTest, IdentityIsPinnedAtAcceptAcrossAnExec) {
  const std::string first = copy_caller("bins/first");
  const std::string second = copy_caller("bins/second");
  auto d = GssgatedProcess::start(
      *kdc_, rule("first-only", absl::StrCat("executables = [\"", first, "\"]\n")));
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string wire = (*d)->wire_socket();
  const std::string both = whoami({first, "--wire-whoami", wire, "--then-exec", second});
  const std::string line = absl::StrCat("OK rule=first-only executable=", first, " unit=\n");
  EXPECT_EQ(both, line + line) << "the second line is the exec'd program's call";
  const std::string own = whoami({second, "--wire-whoami", wire});
  EXPECT_THAT(own, StartsWith("RPC code=7 no policy rule"));
  EXPECT_THAT(own, HasSubstr(absl::StrCat("executable ", second, ")")));
  EXPECT_TRUE((*d)->stop_cleanly().ok());
}

TEST_F(PolicyMatchersTest, SystemdUnitsMatchTheUnitOfTheCallersCgroup) {
  const TestCgroup unit(absl::StrCat("gssgate-test-", getpid(), ".service"));
  if (!unit.made) {
    GTEST_SKIP() << "no writable cgroup v2 hierarchy here (cgroup2 mounted at \"" << unit.root
                 << "\"), so no process can be put in a unit's cgroup";
  }
  const std::string caller = copy_caller("bins/unit");
  auto d = GssgatedProcess::start(
      *kdc_, rule("the-unit", absl::StrCat("systemd_units = [\"", unit.name, "\"]\n")));
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string wire = (*d)->wire_socket();
  const std::string inside =
      whoami({"/bin/sh", "-c", unit.enter() + "exec \"$0\" --wire-whoami \"$1\"", caller, wire});
  // No rule uses executables, so the daemon did not read the executable (policy.h, admit).
  EXPECT_EQ(inside, absl::StrCat("OK rule=the-unit executable= unit=", unit.name, "\n"));
  const std::string outside = whoami({caller, "--wire-whoami", wire});
  EXPECT_THAT(outside, StartsWith("RPC code=7 no policy rule"));
  EXPECT_TRUE((*d)->stop_cleanly().ok());
}

// A daemon in a pid namespace of its own gets pid 0 for callers outside it: it cannot pin their
// process, so rules that select by process fail closed (and say why), while a rule by uid holds.
TEST_F(PolicyMatchersTest, ACallerWhosePidTheDaemonCannotSeeMatchesNoProcessRule) {
  const std::string caller = copy_caller("bins/outside");
  GssgatedOptions options;
  options.own_pid_namespace = true;
  auto d = GssgatedProcess::start(
      *kdc_, rule("by-exe", absl::StrCat("executables = [\"", caller, "\"]\n")), options);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string refused = whoami({caller, "--wire-whoami", (*d)->wire_socket()});
  EXPECT_THAT(refused, StartsWith("RPC code=7 no policy rule for uid 0"));
  EXPECT_THAT(refused,
              HasSubstr("rules that select by process cannot match this caller: its pid is 0"));
  EXPECT_THAT(refused, HasSubstr("hostPID"));

  ASSERT_TRUE((*d)->reload(rule("by-exe", absl::StrCat("executables = [\"", caller, "\"]\n")) +
                           rule("by-uid", "uids = [0]\n"))
                  .ok());
  ASSERT_TRUE((*d)->wait_for_log("2 rule(s)"));
  EXPECT_EQ(whoami({caller, "--wire-whoami", (*d)->wire_socket()}),
            "OK rule=by-uid executable= unit=\n");
  EXPECT_TRUE((*d)->stop_cleanly().ok());
}

// Issue 17, section 3: several sockets, each with its own rules. One uid is matched against the
// rules of the socket it connects to: a host socket with every rule, a containers socket (gRPC
// and wire) with the "pods" rule only.
class ListenersTest : public PolicyMatchersTest {
 protected:
  static constexpr uid_t kUser = 60031;
  static constexpr gid_t kGroup = 60000;

  std::string listeners(const std::string& containers_rules) const {
    return absl::StrCat("[[listener]]\nname = \"host\"\npath = \"", kdc_->path("gssgate.sock"),
                        "\"\n\n", "[[listener]]\nname = \"containers\"\npath = \"",
                        kdc_->path("containers/gssgate.sock"), "\"\nrules = [", containers_rules,
                        "]\n\n", "[[listener]]\nname = \"containers-wire\"\npath = \"",
                        kdc_->path("containers/gssgate.wire"),
                        "\"\ntransport = \"wire\"\nrules = [\"pods\"]\n\n");
  }
  std::string rules() const {
    return rule("admin", "uids = [0]\nadmin = true\n") +
           rule("host-user", absl::StrCat("uids = [", kUser, "]\n")) +
           rule("pods", absl::StrCat("uids = [", kUser, "]\n"));
  }
  // `argv` as `uid` (root: as the test runs).
  static absl::StatusOr<RunResult> run_as(uid_t uid, std::vector<std::string> argv) {
    if (uid != 0) {
      auto setpriv = find_tool("setpriv", "util-linux");
      if (!setpriv.ok()) return setpriv.status();
      argv.insert(argv.begin(), {*setpriv, absl::StrCat("--reuid=", uid),
                                 absl::StrCat("--regid=", kGroup), "--clear-groups"});
    }
    return run(argv, {{"PATH", "/usr/bin:/bin"}});
  }
  // The CLI with --json on `socket`.
  static absl::StatusOr<RunResult> cli(uid_t uid, const std::string& socket,
                                       const std::vector<std::string>& command) {
    std::vector<std::string> argv = {GSSGATE_CLI_PATH_FOR_TESTS, "--json", "--socket", socket};
    argv.insert(argv.end(), command.begin(), command.end());
    return run_as(uid, argv);
  }
  // WhoAmI over a wire socket (gssgate-test-caller --wire-whoami).
  static std::string wire_whoami(uid_t uid, const std::string& socket) {
    auto r = run_as(uid, {caller_path(), "--wire-whoami", socket});
    return r.ok() ? r->output : std::string(r.status().message());
  }
};

TEST_F(ListenersTest, EachSocketMatchesCallersAgainstItsOwnRules) {
  GssgatedOptions options;
  options.listeners = listeners("\"pods\"");
  auto d = GssgatedProcess::start(*kdc_, rules(), options);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string host = kdc_->path("gssgate.sock");
  const std::string containers = kdc_->path("containers/gssgate.sock");
  const std::string containers_wire = kdc_->path("containers/gssgate.wire");
  EXPECT_THAT((*d)->log(),
              HasSubstr(absl::StrCat("serving on ", host, " (grpc listener host), ", containers,
                                     " (grpc listener containers), ", containers_wire,
                                     " (wire listener containers-wire)")));

  // One uid, one rule per socket.
  auto on_host = cli(kUser, host, {"whoami"});
  ASSERT_TRUE(on_host.ok()) << on_host.status();
  EXPECT_THAT(on_host->output, HasSubstr("\"listener\": \"host\", \"rule\": \"host-user\""));
  auto in_pod = cli(kUser, containers, {"whoami"});
  ASSERT_TRUE(in_pod.ok()) << in_pod.status();
  EXPECT_THAT(in_pod->output, HasSubstr("\"listener\": \"containers\", \"rule\": \"pods\""));
  EXPECT_THAT(wire_whoami(kUser, containers_wire), StartsWith("OK rule=pods "));
  EXPECT_THAT(wire_whoami(0, containers_wire), StartsWith("RPC code=7 no policy rule for uid 0"));

  // Root has the admin rule on the host socket, and none on the containers' sockets.
  auto root_in_pod = cli(0, containers, {"whoami"});
  ASSERT_TRUE(root_in_pod.ok()) << root_in_pod.status();
  EXPECT_EQ(root_in_pod->exit_code, 4) << root_in_pod->output;
  EXPECT_THAT(
      root_in_pod->output,
      HasSubstr(absl::StrCat("no policy rule for uid 0 (gid 0) on listener \\\"containers\\\" (",
                             containers, ")")));
  EXPECT_THAT(root_in_pod->output, HasSubstr("and name it in the listener's rules"));
  EXPECT_TRUE((*d)->wait_for_log("listener=\"containers\" outcome=denied"));

  // gssgate status: an admin sees every listener with its rules; others their own, without, and
  // their own listener's counts. (Connection counts are left out: a CLI run that just ended may
  // still be counted until the listener sees it close.)
  auto status = cli(0, host, {"status"});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(status->output, HasSubstr("\"rules\": 3,"));
  EXPECT_THAT(status->output,
              HasSubstr(absl::StrCat("\"listeners\": [{\"name\": \"host\", \"path\": \"", host,
                                     "\", \"transport\": \"grpc\", \"connections\": ")));
  EXPECT_THAT(status->output, HasSubstr("\"rules\": \"all\"}, {\"name\": \"containers\""));
  EXPECT_THAT(status->output,
              HasSubstr("\"rules\": [\"pods\"]}, {\"name\": \"containers-wire\", \"path\": \""));
  auto pod_status = cli(kUser, containers, {"status"});
  ASSERT_TRUE(pod_status.ok()) << pod_status.status();
  EXPECT_THAT(pod_status->output, HasSubstr("\"rules\": 1,"));
  EXPECT_THAT(
      pod_status->output,
      HasSubstr(absl::StrCat("\"listeners\": [{\"name\": \"containers\", \"path\": \"", containers,
                             "\", \"transport\": \"grpc\", \"connections\": ")));
  EXPECT_THAT(pod_status->output, Not(HasSubstr("\"host\"")));
  EXPECT_THAT(pod_status->output, Not(HasSubstr("containers-wire")));

  // A reload whose file drops a listener applies the rest of the file, and the dropped listener's
  // socket serves no rule until a restart.
  std::string without_wire = listeners("\"host-user\", \"pods\"");
  without_wire.erase(without_wire.find("[[listener]]\nname = \"containers-wire\""));
  ASSERT_TRUE(
      (*d)->reload_raw(absl::StrCat("[daemon]\nsocket_mode = \"0666\"\n\n", without_wire, rules()))
          .ok());
  EXPECT_TRUE((*d)->wait_for_log(absl::StrCat("has no listener containers-wire; its socket ",
                                              containers_wire, " serves no rule until")));
  ASSERT_TRUE((*d)->wait_for_log("reloaded "));
  const std::string dropped = wire_whoami(kUser, containers_wire);
  EXPECT_THAT(dropped, StartsWith("RPC code=7 no policy rule for uid 60031"));
  EXPECT_THAT(dropped, HasSubstr("it connected through listener \"containers-wire\", which"));
  // The rest applied: the containers listener's rules changed.
  in_pod = cli(kUser, containers, {"whoami"});
  ASSERT_TRUE(in_pod.ok()) << in_pod.status();
  EXPECT_THAT(in_pod->output, HasSubstr("\"listener\": \"containers\", \"rule\": \"host-user\""));
  EXPECT_TRUE((*d)->stop_cleanly().ok());
}

// Under socket activation each socket goes to the listener its FileDescriptorName= names (as
// LISTEN_FDNAMES passes it); a socket that names a listener at another path, or that no listener
// takes, stops the start with what to change.
TEST_F(ListenersTest, SocketsFromSystemdGoToTheListenersTheirNamesName) {
  GssgatedOptions options;
  options.socket_activated = true;
  // The wire socket is fd 3, the gRPC one fd 4. By path, the wire socket would be nobody's.
  options.fd_names = "pods-wire:host";
  const std::string host_listener = absl::StrCat("[[listener]]\nname = \"host\"\npath = \"",
                                                 kdc_->path("gssgate.sock"), "\"\n\n");
  const std::string pods_wire =
      absl::StrCat("[[listener]]\nname = \"pods-wire\"\npath = \"", kdc_->path("gssgate.wire"),
                   "\"\ntransport = \"wire\"\nrules = [\"pods\"]\n\n");
  options.listeners = host_listener + pods_wire;
  auto d = GssgatedProcess::start(*kdc_, rules(), options);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT((*d)->log(),
              HasSubstr(absl::StrCat((*d)->socket(), " (grpc listener host, socket from systemd), ",
                                     (*d)->wire_socket(),
                                     " (wire listener pods-wire, socket from systemd)")));
  ASSERT_EQ(chmod((*d)->socket().c_str(), 0666), 0);
  ASSERT_EQ(chmod((*d)->wire_socket().c_str(), 0666), 0);
  auto on_host = cli(kUser, (*d)->socket(), {"whoami"});
  ASSERT_TRUE(on_host.ok()) << on_host.status();
  EXPECT_THAT(on_host->output, HasSubstr("\"listener\": \"host\", \"rule\": \"host-user\""));
  EXPECT_THAT(wire_whoami(kUser, (*d)->wire_socket()), StartsWith("OK rule=pods "));
  d->reset();

  // The unit names the wire socket for a listener the file puts elsewhere.
  options.listeners =
      host_listener + absl::StrCat("[[listener]]\nname = \"pods-wire\"\npath = \"",
                                   kdc_->path("elsewhere/pods.wire"),
                                   "\"\ntransport = \"wire\"\nrules = [\"pods\"]\n\n");
  auto misnamed = GssgatedProcess::start(*kdc_, rules(), options);
  ASSERT_FALSE(misnamed.ok());
  EXPECT_THAT(
      std::string(misnamed.status().message()),
      HasSubstr(absl::StrCat("cannot listen: systemd passed a SOCK_SEQPACKET socket (fd 3, ",
                             kdc_->path("gssgate.wire"),
                             ", FileDescriptorName pods-wire) for listener \"pods-wire\", "
                             "whose path is ",
                             kdc_->path("elsewhere/pods.wire"))));
  // A socket no listener takes.
  options.fd_names = "nobody:host";
  options.listeners = host_listener;
  auto refused = GssgatedProcess::start(*kdc_, rules(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(
      std::string(refused.status().message()),
      HasSubstr(absl::StrCat("cannot listen: systemd passed a SOCK_SEQPACKET socket (fd 3, ",
                             kdc_->path("gssgate.wire"),
                             ", FileDescriptorName nobody) that no listener takes")));
}

}  // namespace
}  // namespace gssgate::testing
