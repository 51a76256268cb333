// A caller in its own mount and PID namespace, chrooted into a root that holds system libraries,
// the gssgate command and nothing of the host's but the daemon's socket (bind-mounted at the
// default path, as a container runtime does): it completes a handshake through the daemon, and the
// daemon reports the caller's identity as the host kernel sees it, not as the namespace does.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fixtures/cgroup.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uid_t kContainerUid = 60031;
constexpr gid_t kGroup = 60000;

// A cgroup of its own for the "container", as runtimes make one, where this machine lets us;
// otherwise rules match by uid only.
struct ContainerCgroup : TestCgroup {
  explicit ContainerCgroup(std::string cgroup_name) : TestCgroup(std::move(cgroup_name)) {
    if (!made) {
      std::cerr << "note: no writable cgroup v2 hierarchy here; the rule matches by uid only\n";
    }
  }
  // The rule for the container's uid (and its cgroup, where it has one), with `extra` lines.
  std::string rule(const std::string& service_keytab, const std::string& client_keytab,
                   const std::string& extra) const {
    return absl::StrCat("[[rule]]\nname = \"container\"\nuids = [", kContainerUid, "]\n",
                        made ? "cgroups = [\"/gssgate-test-*\"]\n" : "",
                        "usages = [\"initiate\", \"accept\"]\nkeytab = \"", service_keytab,
                        "\"\nclient_keytab = \"", client_keytab, "\"\n", extra);
  }
};

TEST_F(RealmTest, ACallerInAContainerSeesOnlyTheSocketAndIsKnownByItsHostIdentity) {
  // The "container" gets a cgroup of its own, as runtimes do, and the rule requires it.
  const ContainerCgroup cgroup(absl::StrCat("gssgate-test-", getpid()));
  const bool with_cgroup = cgroup.made;
  const std::string& cg_root = cgroup.root;
  const std::string& cg_name = cgroup.name;
  auto d = GssgatedProcess::start(*kdc_, cgroup.rule(service_keytab_, client_keytab_, ""));
  ASSERT_TRUE(d.ok()) << d.status();
  std::unique_ptr<GssgatedProcess> daemon = std::move(*d);

  // The container's root: empty directories and files to mount over, created on the host.
  namespace fs = std::filesystem;
  const fs::path root = kdc_->path("container-root");
  const fs::path libdir = fs::path(GSSGATE_CLIENT_LIB_FOR_TESTS).parent_path();
  for (const fs::path& dir : {root / "usr", root / "proc", root / "run/gssgate",
                              fs::path(root.string() + libdir.string())}) {
    fs::create_directories(dir);
  }
  for (const char* link : {"bin", "lib", "lib64", "sbin"}) {
    fs::create_directory_symlink(fs::path("usr") / link, root / link);
  }
  std::ofstream(root / "run/gssgate/gssgate.sock").close();
  std::ofstream(root / "gssgate").close();

  auto unshare = find_tool("unshare", "util-linux");
  ASSERT_TRUE(unshare.ok()) << unshare.status();
  // Outside the chroot (still root, in the new namespaces): the mounts. Inside: an unprivileged
  // uid with the default socket path, no --socket.
  const std::string inside = R"SH(
    echo "namespace pid $$"
    echo "root: $(ls -A / | tr '\n' ' ')"
    echo "run/gssgate: $(ls -A /run/gssgate)"
    [ -e "$REALM" ] && echo "the realm is visible" || echo "no realm directory"
    sh -c 'echo "command namespace pid $$"; exec /gssgate --json whoami'
    token=$(/gssgate --json init HTTP@localhost | sed -n 's/.*"token": "\([^"]*\)".*/\1/p')
    /gssgate accept "$token"
  )SH";
  const std::string script = absl::StrCat(
      "set -eu\n",
      with_cgroup ? absl::StrCat("echo 0 > '", cg_root, "/", cg_name, "/cgroup.procs'\n") : "",
      "mount --rbind /usr '", root.string(), "/usr'\n", "mount --bind '", daemon->socket(), "' '",
      root.string(), "/run/gssgate/gssgate.sock'\n", "mount --bind '", GSSGATE_CLI_PATH_FOR_TESTS,
      "' '", root.string(), "/gssgate'\n", "mount --bind '", libdir.string(), "' '", root.string(),
      libdir.string(), "'\n", "mount -t proc proc '", root.string(), "/proc'\n", "exec chroot '",
      root.string(), "' /usr/bin/setpriv --reuid=", kContainerUid, " --regid=", kGroup,
      " --clear-groups /bin/sh -s\n");  // `inside` arrives on stdin
  auto r = run({*unshare, "--mount", "--pid", "--fork", "/bin/sh", "-c", script},
               {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}, {"REALM", kdc_->path("")}}, inside);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string& out = r->output;
  ASSERT_EQ(r->exit_code, 0) << out;

  // What the caller sees: its own small PID space, a root without the host's files, the socket.
  std::set<std::string> entries = {"bin",
                                   "gssgate",
                                   "lib",
                                   "lib64",
                                   "proc",
                                   "run",
                                   "sbin",
                                   "usr",
                                   libdir.begin()->string() == "/"
                                       ? std::next(libdir.begin())->string()
                                       : libdir.begin()->string()};
  std::string listing = "root: ";
  for (const std::string& e : entries) listing += e + " ";
  EXPECT_THAT(out, HasSubstr(listing + "\n")) << out;  // no /etc, /home, /tmp, /var: no keytabs
  EXPECT_THAT(out, HasSubstr("run/gssgate: gssgate.sock\n"));
  EXPECT_THAT(out, HasSubstr("no realm directory"));
  // The handshake went through the daemon, with the keys only it can read.
  EXPECT_THAT(out, HasSubstr("initiator:         " + alice()));
  EXPECT_THAT(out, HasSubstr("complete:          yes"));

  // The daemon's view: the host uid and the host pid (SO_PEERCRED), not the namespace's.
  const std::string pid_key = "\"pid\": ";
  size_t at = out.find(pid_key);
  ASSERT_NE(at, std::string::npos) << out;
  const std::string host_pid =
      out.substr(at + pid_key.size(), out.find(',', at) - at - pid_key.size());
  EXPECT_THAT(out, HasSubstr(absl::StrCat("\"uid\": ", kContainerUid, ", \"gid\": ", kGroup)));
  // The same process, seen from inside its PID namespace, has another pid than the daemon reports.
  const std::string ns_key = "command namespace pid ";
  const size_t ns_at = out.find(ns_key);
  ASSERT_NE(ns_at, std::string::npos) << out;
  const std::string ns_pid =
      out.substr(ns_at + ns_key.size(), out.find('\n', ns_at) - ns_at - ns_key.size());
  EXPECT_NE(ns_pid, host_pid) << out;
  EXPECT_TRUE(daemon->wait_for_log(
      absl::StrCat("from uid=", kContainerUid, " gid=", kGroup, " pid=", host_pid, " ")))
      << daemon->log();
  if (with_cgroup) {
    EXPECT_THAT(out, HasSubstr("\"cgroup\": \"/" + cg_name + "\""));
    // The same uid outside that cgroup matches no rule, and the refusal names the cgroup.
    auto setpriv = find_tool("setpriv", "util-linux");
    ASSERT_TRUE(setpriv.ok());
    auto outside =
        run({*setpriv, absl::StrCat("--reuid=", kContainerUid), absl::StrCat("--regid=", kGroup),
             "--clear-groups", GSSGATE_CLI_PATH_FOR_TESTS, "--socket", daemon->socket(), "whoami"},
            {{"PATH", "/usr/bin:/bin"}});
    ASSERT_TRUE(outside.ok());
    EXPECT_EQ(outside->exit_code, 4) << outside->output;
    EXPECT_THAT(outside->output, HasSubstr(absl::StrCat("no policy rule for uid ", kContainerUid,
                                                        " (gid ", kGroup, ", cgroup ")));
  }
  EXPECT_TRUE(daemon->stop_cleanly().ok());
}

// Issue 16, the container example of docs/transparent.md: an unmodified python-gssapi program in
// a container (its own mount and PID namespaces, a root with /usr and nothing of the host's but
// gssgated's wire socket at the default path, the module and its mech config line) authenticates
// both ways with the host's keys. It has no GSSGATE_INTERPOSE in its environment: the rule that
// matches the container's cgroup says `interpose = true`, and the module asks.
TEST_F(RealmTest, AnUnmodifiedProgramInAContainerUsesTheHostsKeysThroughTheModuleByPolicy) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer-built module cannot load into the uninstrumented python";
#endif
  const ContainerCgroup cgroup(absl::StrCat("gssgate-test-", getpid(), "-interposed"));
  const bool with_cgroup = cgroup.made;
  const std::string& cg_root = cgroup.root;
  const std::string& cg_name = cgroup.name;
  auto d = GssgatedProcess::start(
      *kdc_, cgroup.rule(service_keytab_, client_keytab_, "interpose = true\n"));
  ASSERT_TRUE(d.ok()) << d.status();
  std::unique_ptr<GssgatedProcess> daemon = std::move(*d);

  namespace fs = std::filesystem;
  const fs::path root = kdc_->path("container-root");
  for (const fs::path& dir : {root / "usr", root / "proc", root / "run/gssgate",
                              root / "etc/gss/mech.d", root / "tmp"}) {
    fs::create_directories(dir);
  }
  fs::permissions(root / "tmp", fs::perms::all | fs::perms::sticky_bit);
  for (const char* link : {"bin", "lib", "lib64", "sbin"}) {
    fs::create_directory_symlink(fs::path("usr") / link, root / link);
  }
  std::ofstream(root / "run/gssgate/gssgate.wire").close();
  std::ofstream(root / "gssgate-interposer.so").close();
  // The line /etc/gss/mech.d/gssgate.conf has on an installed host, with the module's path here.
  std::ofstream(root / "etc/gss/mech.d/gssgate.conf")
      << "gssgate 2.25.5955277318674287388 /gssgate-interposer.so <interposer>\n";
  std::ofstream(root / "program.py") << R"PY(
import gssapi, os
print("GSSGATE_INTERPOSE" in os.environ and "opted in by environment" or "no opt-in of its own")
service = gssapi.Name("HTTP@localhost", gssapi.NameType.hostbased_service)
client = gssapi.SecurityContext(name=service, usage="initiate")
server = gssapi.SecurityContext(usage="accept")
token = client.step()
while not (client.complete and server.complete):
    token = server.step(token)
    if not client.complete:
        token = client.step(token)
print("initiator:", server.initiator_name)
print("unwrapped:", server.unwrap(client.wrap(b"from the container", True).message).message.decode())
)PY";

  auto unshare = find_tool("unshare", "util-linux");
  ASSERT_TRUE(unshare.ok()) << unshare.status();
  const std::string script = absl::StrCat(
      "set -eu\n",
      with_cgroup ? absl::StrCat("echo 0 > '", cg_root, "/", cg_name, "/cgroup.procs'\n") : "",
      "mount --rbind /usr '", root.string(), "/usr'\n", "mount --bind '", daemon->wire_socket(),
      "' '", root.string(), "/run/gssgate/gssgate.wire'\n", "mount --bind '",
      GSSGATE_INTERPOSER_FOR_TESTS, "' '", root.string(), "/gssgate-interposer.so'\n",
      "mount -t proc proc '", root.string(), "/proc'\n", "exec chroot '", root.string(),
      "' /usr/bin/setpriv --reuid=", kContainerUid, " --regid=", kGroup,
      " --clear-groups /usr/bin/python3 /program.py\n");
  // The program's whole environment: no GSSGATE_*, no KRB5_*.
  auto r = run({*unshare, "--mount", "--pid", "--fork", "/bin/sh", "-c", script},
               {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}, {"HOME", "/tmp"}});
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string& out = r->output;
  EXPECT_EQ(r->exit_code, 0) << out << daemon->log();
  EXPECT_THAT(out, HasSubstr("no opt-in of its own"));
  EXPECT_THAT(out, HasSubstr("initiator: " + alice()));
  EXPECT_THAT(out, HasSubstr("unwrapped: from the container"));
  // The daemon did both sides, for the container's host uid (and cgroup, where there is one).
  EXPECT_TRUE(daemon->wait_for_log(absl::StrCat("audit op=init uid=", kContainerUid)))
      << daemon->log();
  EXPECT_TRUE(daemon->wait_for_log(absl::StrCat("audit op=accept uid=", kContainerUid)));
  if (with_cgroup) {
    EXPECT_THAT(daemon->log(), HasSubstr("/" + cg_name));
  }
  EXPECT_TRUE(daemon->stop_cleanly().ok());
}

}  // namespace
}  // namespace gssgate::testing
