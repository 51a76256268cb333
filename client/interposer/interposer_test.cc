// The mechglue interposer (client/interposer) with programs no one here wrote: MIT's own sample
// client and server (Debian's krb5-gss-samples, unmodified) authenticate, wrap and sign through
// gssgated on a real realm while neither can read a keytab or a ccache: each runs as a uid of its
// own, and only the daemon holds the keys. The programs load the module the way MIT loads any
// mechanism, through a mech config file (GSS_MECH_CONFIG), and opt in with GSSGATE_INTERPOSE=1.

#include <arpa/inet.h>
#include <dlfcn.h>
#include <gssapi/gssapi_ext.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gssgate/v1/wire.pb.h"
#include "gtest/gtest.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/fixtures/subprocess.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uid_t kServer = 60041;  // rule "server": accept, HTTP/localhost's keytab
constexpr uid_t kClient = 60042;  // rule "client": initiate as alice
constexpr uid_t kNoRule = 60043;
constexpr uid_t kBoth = 60044;    // rule "both": initiate as alice and accept as the service
constexpr uid_t kCcacheUser = 60045;  // rule "ccache": initiate from a ccache only gssgated reads
// rule "by-policy": initiate as alice, and `interpose = true`: its programs interpose without
// GSSGATE_INTERPOSE in their environment.
constexpr uid_t kPolicyUser = 60046;
// Apache's children: Debian's www-data (Apache needs a passwd entry for its User), rule "web".
constexpr uid_t kWebUser = 33;
constexpr gid_t kGroup = 60000;
// The module's OID in MIT's mech config: in the UUID arc (X.667) from a random 62-bit value, as
// MIT's OID parser takes arcs of at most 64 bits (docs/transparent.md). It never leaves the host.
constexpr char kModuleOid[] = "2.25.5955277318674287388";

// A python-gssapi program (unmodified library, the module under it) that answers one line per
// command, so a test can break things between its calls: "init" (an initiator's first step),
// "accept" (the acceptor's step on that token), "finish" (the initiator's last step), "handshake"
// (a whole new one), "acquire" (acceptor credentials), "password WHO PASSWORD USAGE" (a handshake
// whose initiator's credentials come from gss_acquire_cred_with_password). Each answer is "ok ..."
// or "error <class>: <text>"; anything else (a crash, a hang) fails the test. A mutual-auth
// handshake between two python-gssapi contexts; both programs below start with it.
constexpr char kPythonHandshake[] = R"(
import gssapi
def handshake(client, server):
    token = client.step()
    while not (client.complete and server.complete):
        token = server.step(token)
        if not client.complete:
            token = client.step(token)
)";

constexpr char kPythonLineProgram[] = R"(
import gssapi, sys
service = gssapi.Name("HTTP@localhost", gssapi.NameType.hostbased_service)
state = {}
for line in sys.stdin:
    command = line.strip()
    try:
        if command == "init":
            state["client"] = gssapi.SecurityContext(name=service, usage="initiate")
            state["token"] = state["client"].step()
            out = "ok"
        elif command == "accept":
            state["server"] = gssapi.SecurityContext(usage="accept")
            state["reply"] = state["server"].step(state["token"])
            out = "ok"
        elif command == "finish":
            state["client"].step(state["reply"])
            out = "ok"
        elif command == "handshake":
            s = gssapi.SecurityContext(usage="accept")
            handshake(gssapi.SecurityContext(name=service, usage="initiate"), s)
            out = "ok " + str(s.initiator_name)
        elif command == "acquire":
            out = "ok " + str(gssapi.Credentials(usage="accept").lifetime)
        elif command.startswith("password "):
            _, who, password, usage = command.split()
            name = gssapi.Name(who, gssapi.NameType.kerberos_principal)
            creds = gssapi.raw.acquire_cred_with_password(name, password.encode(), usage=usage)
            s = gssapi.SecurityContext(usage="accept")
            handshake(gssapi.SecurityContext(name=service, creds=creds.creds, usage="initiate"), s)
            out = "ok " + str(s.initiator_name)
        else:
            out = "unknown command " + command
    except gssapi.exceptions.GSSError as e:
        out = "error " + type(e).__name__ + ": " + " ".join(str(e).split())
    print(out, flush=True)
)";

// A program under test, terminated (SIGTERM, so that Apache takes its own children down, then
// SIGKILL) if it still runs when the test ends, also when the test fails.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const Env& env, int stdio_fd,
        const std::string& output_path) {
    std::ofstream(output_path, std::ios::trunc).close();  // this run's output only
    absl::StatusOr<pid_t> pid =
        spawn(argv, env, output_path, {.stdio_fd = stdio_fd, .own_process_group = true});
    EXPECT_TRUE(pid.ok()) << pid.status();
    if (pid.ok()) pid_ = *pid;
  }
  ~Child() {
    if (pid_ > 0 && !exited_) terminate(pid_, std::chrono::seconds(10));
  }
  // The exit code, or -1 if it did not exit within `timeout` (it is killed then).
  int wait(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    if (pid_ <= 0) return -1;
    exited_ = true;
    return wait_for_exit(pid_, timeout);
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

class InterposerTest : public RealmTest {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The module is built with the sanitizer like everything else, and MIT's programs are not:
    // they cannot load it (the sanitizer runtime must come first). The plain build runs these.
    GTEST_SKIP() << "the sanitizer-built module cannot load into uninstrumented MIT programs";
#endif
    RealmTest::SetUp();
    if (HasFatalFailure()) return;
    auto client = find_tool("gss-client", "krb5-gss-samples");
    auto server = find_tool("gss-server", "krb5-gss-samples");
    auto setpriv = find_tool("setpriv", "util-linux");
    ASSERT_TRUE(client.ok()) << client.status();
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE(setpriv.ok()) << setpriv.status();
    gss_client_ = *client;
    gss_server_ = *server;
    setpriv_ = *setpriv;
    mech_config_ = kdc_->path("gss-mech");
    std::ofstream(mech_config_) << "gssgate " << kModuleOid << " " << GSSGATE_INTERPOSER_FOR_TESTS
                                << " <interposer>\n";
    chmod(mech_config_.c_str(), 0644);
    chmod(kdc_->krb5_conf().c_str(), 0644);
    // The daemon is started with the programs' own opt-in in its environment: it must never
    // interpose itself (it would send its GSSAPI calls back to itself).
    // alice's tickets in a ccache that only root (the daemon) can read.
    ccache_ = kdc_->path("alice.ccache");
    absl::Status kinit = kdc_->kinit_with_password("alice", kAlicePassword, "FILE:" + ccache_);
    ASSERT_TRUE(kinit.ok()) << kinit;
    chmod(ccache_.c_str(), 0600);
    daemon_options_.extra_env = {{"GSSGATE_INTERPOSE", "1"}, {"GSS_MECH_CONFIG", mech_config_}};
    rules_ = absl::StrCat(
        "[[rule]]\nname = \"server\"\nuids = [", kServer, "]\nusages = [\"accept\"]\nkeytab = \"",
        service_keytab_, "\"\n\n", "[[rule]]\nname = \"client\"\nuids = [", kClient,
        "]\nusages = [\"initiate\"]\nclient_keytab = \"", client_keytab_, "\"\n\n",
        "[[rule]]\nname = \"both\"\nuids = [", kBoth,
        "]\nusages = [\"initiate\", \"accept\"]\nkeytab = \"", service_keytab_,
        "\"\nclient_keytab = \"", client_keytab_, "\"\nexport_context = true\n\n",
        "[[rule]]\nname = \"ccache\"\nuids = [", kCcacheUser,
        "]\nusages = [\"initiate\"]\nccache = \"FILE:", ccache_, "\"\n\n",
        "[[rule]]\nname = \"web\"\nuids = [", kWebUser, "]\nusages = [\"accept\"]\nkeytab = \"",
        service_keytab_, "\"\n\n", "[[rule]]\nname = \"by-policy\"\nuids = [", kPolicyUser,
        "]\nusages = [\"initiate\"]\nclient_keytab = \"", client_keytab_,
        "\"\ninterpose = true\n");
    auto d = GssgatedProcess::start(*kdc_, rules_, daemon_options_);
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);

    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(listener_, 4), 0);
    socklen_t len = sizeof(addr);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  void TearDown() override {
    if (listener_ >= 0) close(listener_);
    if (daemon_ && daemon_->pid() > 0) {
      absl::Status s = daemon_->stop_cleanly();
      EXPECT_TRUE(s.ok()) << s;
    }
  }

  // What an unmodified program gets: the realm's krb5.conf, no ccache and no keytab it could
  // read, the module's mech config, and (unless `interpose` is false) the opt-in.
  Env program_env(bool interpose = true, const std::string& socket = "") const {
    Env env = {{"PATH", "/usr/bin:/bin"},
               {"HOME", "/nonexistent"},
               {"KRB5_CONFIG", kdc_->krb5_conf()},
               {"KRB5CCNAME", "FILE:" + kdc_->path("no-such-ccache")},
               {"KRB5_KTNAME", "FILE:" + kdc_->path("no-such-keytab")},
               {"KRB5_CLIENT_KTNAME", "FILE:" + kdc_->path("no-such-client-keytab")},
               {"GSS_MECH_CONFIG", mech_config_},
               {"GSSGATE_SOCKET", socket.empty() ? daemon_->wire_socket() : socket}};
    if (interpose) env["GSSGATE_INTERPOSE"] = "1";
    return env;
  }
  std::vector<std::string> as_uid(uid_t uid, std::vector<std::string> argv) const {
    std::vector<std::string> wrapped = {setpriv_,
                                        absl::StrCat("--reuid=", uid),
                                        absl::StrCat("--regid=", kGroup),
                                        "--clear-groups",
                                        "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
  }
  // kPythonLineProgram as `uid` with program_env(true, socket); ask(command) is its answer, or
  // "no answer (...)" with its stderr.
  struct LineProgram {
    std::unique_ptr<LineChild> child;
    std::string err;
    std::string ask(const std::string& command) {
      absl::StatusOr<std::string> answer = child->request(command, std::chrono::seconds(40));
      return answer.ok() ? *answer
                         : absl::StrCat("no answer (", answer.status().ToString(),
                                        "); stderr: ", read_file(err));
    }
  };
  LineProgram start_line_program(uid_t uid, const std::string& socket = "") {
    const std::string script = kdc_->path("python-lines.py");
    std::ofstream(script) << kPythonHandshake << kPythonLineProgram;
    chmod(script.c_str(), 0644);
    LineProgram program{nullptr, kdc_->path("python-lines.err")};
    auto child = LineChild::start(as_uid(uid, {"/usr/bin/python3", script}),
                                  program_env(true, socket), program.err);
    EXPECT_TRUE(child.ok()) << child.status();
    if (child.ok()) program.child = std::move(*child);
    return program;
  }
  // The next connection to the listener, or -1 after 30 s.
  int accept_connection() {
    pollfd ready{listener_, POLLIN, 0};
    if (poll(&ready, 1, 30'000) != 1) return -1;
    return accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  }

  struct Run {
    int client_exit = -1;
    int server_exit = -1;
    std::string client_output;
    std::string server_log;
  };
  // gss-client as `client_uid` against gss-server -inetd as kServer, on a loopback connection
  // the test accepts; both with `client_env`/program_env().
  Run run_pair(uid_t client_uid, const Env& client_env, std::vector<std::string> client_flags) {
    Run run;
    const std::string client_out = kdc_->path("gss-client.out");
    const std::string server_log = kdc_->path("gss-server.log");
    std::vector<std::string> client_argv = {gss_client_, "-port", std::to_string(port_)};
    client_argv.insert(client_argv.end(), client_flags.begin(), client_flags.end());
    client_argv.insert(client_argv.end(),
                       {"127.0.0.1", "HTTP@localhost", "sealed and signed through gssgated"});
    Child client(as_uid(client_uid, client_argv), client_env, -1, client_out);
    const int connection = accept_connection();
    if (connection >= 0) {
      std::ofstream(server_log).close();
      chmod(server_log.c_str(), 0666);
      Child server(as_uid(kServer, {gss_server_, "-inetd", "-verbose", "-logfile", server_log,
                                    "HTTP@localhost"}),
                   program_env(), connection, kdc_->path("gss-server.err"));
      close(connection);
      run.client_exit = client.wait();
      run.server_exit = server.wait();
    } else {
      run.client_exit = client.wait();
    }
    run.client_output = read_file(client_out);
    run.server_log = read_file(server_log) + read_file(kdc_->path("gss-server.err"));
    return run;
  }

  std::unique_ptr<GssgatedProcess> daemon_;
  std::string rules_;
  GssgatedOptions daemon_options_;
  std::string gss_client_, gss_server_, setpriv_, mech_config_, ccache_;
  int listener_ = -1;
  int port_ = 0;
};

TEST_F(InterposerTest, MitSamplesAuthenticateSealAndSignThroughGssgatedWithoutKeysOfTheirOwn) {
  // Three messages over the one context (-mcount 3), each sealed, unwrapped and signed back.
  Run run = run_pair(kClient, program_env(), {"-mcount", "3"});
  EXPECT_EQ(run.client_exit, 0) << run.client_output << "\n--- server:\n" << run.server_log;
  EXPECT_EQ(run.server_exit, 0) << run.server_log;
  // The client's inquiry of its complete context (gss_inquire_context, gss_display_name) names
  // alice, whose key the client uid never held, and the service; the server unwrapped the
  // message and its MIC came back verified.
  EXPECT_THAT(run.client_output,
              HasSubstr(absl::StrCat("\"", alice(), "\" to \"", service_principal(), "\"")));
  EXPECT_THAT(run.client_output, HasSubstr("Signature verified"));
  EXPECT_THAT(run.server_log, HasSubstr("Received message: \"sealed and signed through gssgated\""));
  size_t received = 0;
  for (size_t at = 0; (at = run.server_log.find("Received message:", at)) != std::string::npos; ++at) {
    ++received;
  }
  EXPECT_EQ(received, 3u) << run.server_log;
  // gss-server -inetd cannot print the initiator (its stdout is the socket); the daemon's audit
  // lines show each side ran there, as its own uid, and whom the acceptor authenticated.
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("op=init uid=", kClient)));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("op=accept uid=", kServer)));
  EXPECT_THAT(daemon_->log(), HasSubstr(absl::StrCat("initiator=\"", alice(), "\"")));
  // The server's gss_inquire_name of the initiator reached the daemon too.
  EXPECT_THAT(run.server_log, Not(HasSubstr("gss_inquire_name")));
}

TEST_F(InterposerTest, SpnegoInTheProgramReachesGssgatedThroughItsInnerKrb5Calls) {
  Run run = run_pair(kClient, program_env(), {"-spnego"});
  EXPECT_EQ(run.client_exit, 0) << run.client_output << "\n--- server:\n" << run.server_log;
  EXPECT_EQ(run.server_exit, 0) << run.server_log;
  EXPECT_THAT(run.client_output,
              HasSubstr(absl::StrCat("\"", alice(), "\" to \"", service_principal(), "\"")));
  EXPECT_THAT(run.client_output, HasSubstr("Signature verified"));
  EXPECT_THAT(run.server_log, HasSubstr("Received message: \"sealed and signed through gssgated\""));
  // The SPNEGO token (1.3.6.1.5.5.2) went in, and inside it krb5's, accepted by the daemon.
  EXPECT_THAT(run.server_log, HasSubstr("06 06 2b 06 01 05 05 02"));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("op=accept uid=", kServer)));
}

TEST_F(InterposerTest, WithoutTheOptInTheSameProgramHasNoCredentials) {
  // The module is configured but GSSGATE_INTERPOSE is not set: MIT's own krb5 runs, finds no
  // ccache, and fails. So the success above is the daemon's doing.
  Run run = run_pair(kClient, program_env(/*interpose=*/false), {});
  EXPECT_NE(run.client_exit, 0) << run.client_output;
  EXPECT_THAT(run.client_output, Not(HasSubstr("Signature verified")));
  EXPECT_THAT(run.client_output, HasSubstr("initializing context"));
  EXPECT_THAT(run.client_output, Not(HasSubstr("gssgate:")));
}

// Transparent mode by policy (the rule's `interpose = true`): the program has no
// GSSGATE_INTERPOSE, and the module, asking the daemon at its first GSSAPI call, interposes. An
// explicit GSSGATE_INTERPOSE=0 still opts it out; a rule without `interpose` does not opt in
// (WithoutTheOptIn... above); a uid without a rule asks and is told no without a warning in the
// daemon's log (every GSSAPI program on the host may ask).
TEST_F(InterposerTest, APolicyRuleOptsAProgramInWithoutItsEnvironment) {
  Run by_policy = run_pair(kPolicyUser, program_env(/*interpose=*/false), {"-mcount", "2"});
  EXPECT_EQ(by_policy.client_exit, 0) << by_policy.client_output << by_policy.server_log;
  EXPECT_THAT(by_policy.client_output, HasSubstr("Signature verified"));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("audit op=init uid=", kPolicyUser)))
      << daemon_->log();

  Env opted_out = program_env(/*interpose=*/false);
  opted_out["GSSGATE_INTERPOSE"] = "0";
  Run out = run_pair(kPolicyUser, opted_out, {});
  EXPECT_NE(out.client_exit, 0) << out.client_output;
  EXPECT_THAT(out.client_output, Not(HasSubstr("Signature verified")));
  EXPECT_THAT(out.client_output, Not(HasSubstr("gssgate:")));

  Run no_rule = run_pair(kNoRule, program_env(/*interpose=*/false), {});
  EXPECT_NE(no_rule.client_exit, 0) << no_rule.client_output;
  EXPECT_THAT(no_rule.client_output, Not(HasSubstr("gssgate:"))) << "MIT's own error, not ours";
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("debug audit op=WhoAmI uid=", kNoRule)))
      << daemon_->log();
  EXPECT_THAT(daemon_->log(),
              Not(HasSubstr(absl::StrCat("warning audit op=WhoAmI uid=", kNoRule))));

  RunResult check = *run(as_uid(kPolicyUser, {GSSGATE_CLI_PATH_FOR_TESTS, "interpose-check"}),
                         program_env(/*interpose=*/false));
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("opted_in:          by policy (the rule grants interpose)"));
}

// The policy question is asked at the first GSSAPI call of every program that loads the module
// without an opt-in of its own, so a daemon that takes no connections (stopped, its backlog full)
// must not hold them up: the program waits at most about a second, then runs MIT's own krb5.
TEST_F(InterposerTest, APolicyQuestionToADaemonThatTakesNoConnectionsHoldsAProgramUpAtMostASecond) {
  const FullBacklogSocket full(kdc_->path("full.wire"));
  ASSERT_TRUE(full.ok());

  const char script[] =
      "import gssapi, time\n"
      "started = time.monotonic()\n"
      "try:\n"
      "    gssapi.Credentials(usage='initiate')\n"
      "    print('credentials')\n"
      "except gssapi.exceptions.GSSError as e:\n"
      "    print('error', type(e).__name__)\n"
      "print('waited %.1f' % (time.monotonic() - started))\n";
  absl::StatusOr<RunResult> r = run(as_uid(kClient, {"/usr/bin/python3", "-c", script}),
                                    program_env(/*interpose=*/false, full.path()));
  ASSERT_TRUE(r.ok()) << r.status() << " (a program hung on the policy question)";
  EXPECT_EQ(r->exit_code, 0) << r->output;
  // MIT's own krb5 answered (this uid has no ccache of its own), not the module.
  EXPECT_THAT(r->output, HasSubstr("error MissingCredentialsError")) << r->output;
  EXPECT_THAT(r->output, Not(HasSubstr("gssgate:")));
}

// GSSGATE_INTERPOSE=fallback: the daemon serves the programs it has a rule for; a program it
// cannot serve (no rule for its uid, or no daemon at all) runs on keys of its own with MIT's krb5
// in the process, as without the module. Without fallback the same program fails with the
// module's text instead (AnUnreachableDaemonOrAPolicyRefusal... above).
TEST_F(InterposerTest, FallbackUsesTheDaemonWhereItServesAndTheProgramsOwnKeysWhereItCannot) {
  Env fallback = program_env(/*interpose=*/false);
  fallback["GSSGATE_INTERPOSE"] = "fallback";
  Run served = run_pair(kClient, fallback, {"-mcount", "2"});
  EXPECT_EQ(served.client_exit, 0) << served.client_output << served.server_log;
  EXPECT_THAT(served.client_output, HasSubstr("Signature verified"));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("audit op=init uid=", kClient)))
      << daemon_->log();

  // A uid the daemon has no rule for, with tickets of its own in a ccache it owns.
  const std::string own_ccache = kdc_->path("no-rule-ccache");
  absl::Status kinit = kdc_->kinit_with_password("alice", kAlicePassword, "FILE:" + own_ccache);
  ASSERT_TRUE(kinit.ok()) << kinit;
  ASSERT_EQ(chown(own_ccache.c_str(), kNoRule, kGroup), 0);
  Env own = fallback;
  own["KRB5CCNAME"] = "FILE:" + own_ccache;
  Run local = run_pair(kNoRule, own, {"-mcount", "2"});
  EXPECT_EQ(local.client_exit, 0) << local.client_output << local.server_log;
  EXPECT_THAT(local.client_output, HasSubstr("Signature verified"));
  EXPECT_THAT(daemon_->log(), HasSubstr(absl::StrCat("uid=", kNoRule)));
  EXPECT_THAT(daemon_->log(), Not(HasSubstr(absl::StrCat("audit op=init uid=", kNoRule))))
      << "the daemon refused it; its own krb5 did the work";

  // No daemon at all: the same.
  own["GSSGATE_SOCKET"] = kdc_->path("no-such-socket.wire");
  Run alone = run_pair(kNoRule, own, {});
  EXPECT_EQ(alone.client_exit, 0) << alone.client_output;
  EXPECT_THAT(alone.client_output, HasSubstr("Signature verified"));

  // Without fallback, the policy's refusal is the program's error.
  Env strict = own;
  strict["GSSGATE_INTERPOSE"] = "1";
  strict["GSSGATE_SOCKET"] = daemon_->wire_socket();
  Run refused = run_pair(kNoRule, strict, {});
  EXPECT_NE(refused.client_exit, 0) << refused.client_output;
  EXPECT_THAT(refused.client_output, HasSubstr("no policy rule for uid"));
}

// Every element of a credential store a program passes reaches the daemon, however many: the
// module once sent the first 16 and dropped the rest, so a keytab the rule does not grant, named
// 17th, went unseen and the acquisition succeeded with the granted one. Called on the module's
// own entry point (what MIT's mechglue calls) in a child running as the accept-only uid.
TEST_F(InterposerTest, EveryCredentialStoreElementReachesTheDaemonNoneIsDropped) {
  const std::string wire = daemon_->wire_socket();
  const std::string granted = service_keytab_;
  EXPECT_EQ(
      run_in_child_as(kServer, kGroup,
                      [&] {
                        setenv("GSSGATE_SOCKET", wire.c_str(), 1);
                        void* module = dlopen(GSSGATE_INTERPOSER_FOR_TESTS, RTLD_NOW | RTLD_LOCAL);
                        if (module == nullptr) return 10;
                        using AcquireFrom = OM_uint32 (*)(
                            OM_uint32*, gss_name_t, OM_uint32, gss_OID_set, gss_cred_usage_t,
                            gss_const_key_value_set_t, gss_cred_id_t*, gss_OID_set*, OM_uint32*);
                        using Release = OM_uint32 (*)(OM_uint32*, gss_cred_id_t*);
                        auto acquire =
                            reinterpret_cast<AcquireFrom>(dlsym(module, "gssi_acquire_cred_from"));
                        auto release = reinterpret_cast<Release>(dlsym(module, "gssi_release_cred"));
                        if (acquire == nullptr || release == nullptr) return 11;
                        std::vector<gss_key_value_element_desc> elements(
                            17, {"keytab", granted.c_str()});
                        gss_key_value_set_desc store{1, elements.data()};
                        OM_uint32 minor = 0;
                        gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
                        // One granted element: acquired.
                        if (acquire(&minor, GSS_C_NO_NAME, 0, GSS_C_NO_OID_SET, GSS_C_ACCEPT,
                                    &store, &cred, nullptr, nullptr) != GSS_S_COMPLETE) {
                          return 1;
                        }
                        release(&minor, &cred);
                        // Sixteen granted ones and a seventeenth naming another keytab: refused.
                        elements[16].value = "/etc/krb5.keytab";
                        store.count = 17;
                        const OM_uint32 major =
                            acquire(&minor, GSS_C_NO_NAME, 0, GSS_C_NO_OID_SET, GSS_C_ACCEPT,
                                    &store, &cred, nullptr, nullptr);
                        if (major == GSS_S_COMPLETE) return 2;
                        return minor == 0x67670002u ? 0 : 3;  // GG_MINOR_DENIED
                      }),
      0)
      << "1: a granted store was refused, 2: the 17th element was dropped, 3: not a policy "
         "refusal";
  EXPECT_TRUE(daemon_->wait_for_log("store element keytab=/etc/krb5.keytab is not granted"))
      << daemon_->log();
}

TEST_F(InterposerTest, AnUnreachableDaemonOrAPolicyRefusalIsAClearMinorStatusNotAFallback) {
  Run away = run_pair(kClient, program_env(true, kdc_->path("absent.wire")), {});
  EXPECT_NE(away.client_exit, 0);
  EXPECT_THAT(away.client_output, HasSubstr("gssgate: cannot connect to gssgated's wire socket"))
      << away.client_output;
  EXPECT_THAT(away.client_output, HasSubstr("absent.wire"));

  Run refused = run_pair(kNoRule, program_env(), {});
  EXPECT_NE(refused.client_exit, 0);
  EXPECT_THAT(refused.client_output,
              HasSubstr(absl::StrCat("gssgate: no policy rule for uid ", kNoRule)))
      << refused.client_output;
}

// gss_acquire_cred_with_password through the module: the program has the password, so MIT's own
// krb5 asks the KDC in the program (as gssproxy's module does); gssgated never sees the password
// and holds nothing for the credential, and the context it initiates is the program's own, here
// accepted by gssgated. Only initiator credentials: an acceptor's keys are gssgated's.
TEST_F(InterposerTest, APasswordGivesTheProgramItsOwnInitiatorCredentialAndNeverReachesTheDaemon) {
  const std::string password = "carol-pw-4711";
  ASSERT_TRUE(kdc_->add_principal_with_password("carol", password).ok());
  LineProgram program = start_line_program(kBoth);
  ASSERT_NE(program.child, nullptr);
  EXPECT_EQ(program.ask(absl::StrCat("password carol ", password, " initiate")),
            absl::StrCat("ok ", kdc_->qualify("carol")));
  // The acceptor was gssgated's, under the program's rule; the initiator was not.
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("initiator=\"", kdc_->qualify("carol"))))
      << daemon_->log();
  EXPECT_THAT(daemon_->log(), Not(HasSubstr(absl::StrCat("audit op=init uid=", kBoth))));
  EXPECT_THAT(daemon_->log(), Not(HasSubstr(password)));
  // A wrong password is the KDC's refusal, in the program.
  const std::string wrong = program.ask("password carol not-the-password initiate");
  EXPECT_THAT(wrong, HasSubstr("error MissingCredentialsError: ")) << wrong;
  EXPECT_THAT(wrong, HasSubstr("Decrypt integrity check failed")) << wrong;
  for (const char* usage : {"accept", "both"}) {
    const std::string refused = program.ask(absl::StrCat("password carol ", password, " ", usage));
    EXPECT_THAT(refused, HasSubstr("error GSSError: ")) << usage;
    EXPECT_THAT(refused, HasSubstr("a password gives initiator credentials only")) << refused;
  }
  EXPECT_THAT(daemon_->log(), Not(HasSubstr(password)));
}

// Proof 5 of issue 16, the daemon's death: gssgated is killed (SIGKILL) between an initiator's
// first step and the acceptor's. The program's next calls are clean GSS errors that say what
// happened; once gssgated is back, the context of the dead daemon is refused with "start again"
// and a new handshake in the same process (same module, same wire socket path) succeeds.
TEST_F(InterposerTest, AProgramOutlivesTheDaemonsDeathMidHandshakeWithCleanErrors) {
  LineProgram program = start_line_program(kBoth);
  ASSERT_NE(program.child, nullptr);
  auto ask = [&](const std::string& command) { return program.ask(command); };
  EXPECT_EQ(ask("init"), "ok");

  ASSERT_EQ(kill(daemon_->pid(), SIGKILL), 0);
  EXPECT_EQ(wait_for_exit(daemon_->pid(), std::chrono::seconds(10)), 128 + SIGKILL);
  daemon_.reset();  // nothing left to stop
  const std::string dead = ask("accept");
  EXPECT_THAT(dead, HasSubstr("error GSSError: "));
  EXPECT_THAT(dead, HasSubstr("gssgate: "));
  // Either the connection broke under the call, or the next connect found no one.
  EXPECT_THAT(dead, ::testing::AnyOf(HasSubstr("the wire connection broke"),
                                     HasSubstr("cannot connect to gssgated's wire socket")));
  const std::string still_dead = ask("handshake");
  EXPECT_THAT(still_dead, HasSubstr("cannot connect to gssgated's wire socket")) << still_dead;

  auto d = GssgatedProcess::start(*kdc_, rules_, daemon_options_);
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  ASSERT_EQ(ask("accept"), "ok");  // a new acceptor, on a new connection: it never knew the old one
  const std::string old = ask("finish");
  EXPECT_THAT(old, HasSubstr("error "));
  EXPECT_THAT(old, HasSubstr("earlier connection to gssgated")) << old;
  EXPECT_EQ(ask("handshake"), absl::StrCat("ok ", alice()));
  EXPECT_TRUE(running(program.child->pid()));
}

// Proof 5 of issue 16, the wire itself: a fake gssgated on the wire socket answers the module's
// call with garbage, a reply that is not the method's message, a reply cut off by a close, a close
// without a reply, and a well-formed reply that carries no credential handle. Each is a clean GSS
// error in the program naming what was wrong, and the program goes on to the next.
TEST_F(InterposerTest, AGarbledOrTruncatedWireReplyIsACleanGssErrorInTheProgram) {
  enum class Mode { kGarbage, kNotTheReply, kTruncated, kClosed, kNoHandle };
  std::atomic<Mode> mode{Mode::kGarbage};
  std::atomic<bool> stop{false};
  const std::string socket_path = kdc_->path("fake.wire");
  const int listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  chmod(socket_path.c_str(), 0666);
  ASSERT_EQ(listen(listener, 4), 0);
  std::thread fake([&] {
    int connection = -1;
    std::vector<char> buffer(256 * 1024);
    while (!stop) {
      pollfd ready{connection >= 0 ? connection : listener, POLLIN, 0};
      if (poll(&ready, 1, 100) != 1) continue;
      if (connection < 0) {
        connection = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        continue;
      }
      const ssize_t n = recv(connection, buffer.data(), buffer.size(), 0);
      v1::Frame request;
      if (n <= 0 || !request.ParseFromArray(buffer.data(), static_cast<int>(n))) {
        close(connection);
        connection = -1;
        continue;
      }
      v1::Frame reply;
      reply.set_call_id(request.call_id());
      std::string bytes;
      switch (mode.load()) {
        case Mode::kGarbage:
          bytes.assign(40, '\xff');
          break;
        case Mode::kNotTheReply:
          reply.set_payload(std::string(12, '\xff'));
          bytes = reply.SerializeAsString();
          break;
        case Mode::kTruncated:
          reply.set_payload(std::string(100, '\x08'));
          reply.set_continued(true);
          bytes = reply.SerializeAsString();
          break;
        case Mode::kClosed:
          break;
        case Mode::kNoHandle:
          bytes = reply.SerializeAsString();  // an empty AcquireCredsReply: OK, and no handle
          break;
      }
      if (!bytes.empty()) send(connection, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (mode == Mode::kTruncated || mode == Mode::kClosed) {
        close(connection);
        connection = -1;
      }
    }
    if (connection >= 0) close(connection);
  });
  // Stopped and joined however the test ends (an ASSERT below returns early).
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    int listener;
    ~Joiner() {
      stop = true;
      thread.join();
      close(listener);
    }
  } joiner{stop, fake, listener};
  LineProgram program = start_line_program(kServer, socket_path);
  ASSERT_NE(program.child, nullptr);
  auto with = [&](Mode m, const std::string& command) {
    mode = m;
    return program.ask(command);
  };
  const std::string garbage = with(Mode::kGarbage, "acquire");
  EXPECT_THAT(garbage, HasSubstr("error GSSError: "));
  EXPECT_THAT(garbage, HasSubstr("not a gssgate.v1.Frame")) << garbage;
  const std::string not_the_reply = with(Mode::kNotTheReply, "acquire");
  EXPECT_THAT(not_the_reply, HasSubstr("error GSSError: "));
  EXPECT_THAT(not_the_reply, HasSubstr("reply is not a gssgate.v1.AcquireCredsReply"))
      << not_the_reply;
  const std::string truncated = with(Mode::kTruncated, "acquire");
  EXPECT_THAT(truncated, HasSubstr("error GSSError: "));
  EXPECT_THAT(truncated, HasSubstr("the wire connection broke: gssgated closed the connection"))
      << truncated;
  const std::string closed = with(Mode::kClosed, "acquire");
  EXPECT_THAT(closed, HasSubstr("error GSSError: "));
  EXPECT_THAT(closed, HasSubstr("the wire connection broke: gssgated closed the connection"))
      << closed;
  const std::string no_handle = with(Mode::kNoHandle, "acquire");
  EXPECT_THAT(no_handle, HasSubstr("error GSSError: "));
  EXPECT_THAT(no_handle, HasSubstr("reply carries no credential handle")) << no_handle;
  const std::string no_context = with(Mode::kNoHandle, "init");
  EXPECT_THAT(no_context, HasSubstr("error GSSError: "));
  EXPECT_THAT(no_context, HasSubstr("reply carries no context handle")) << no_context;
  EXPECT_TRUE(running(program.child->pid()));
}

// python-gssapi's high-level API, unmodified (Debian's python3-gssapi), both sides in one process
// of a uid that can read no key: credentials, a mutual-auth handshake, the context's properties,
// wrap/unwrap, get_mic/verify_mic, and the initiator name's display and comparison.
constexpr char kPythonProgram[] = R"(
import gssapi, sys
service = gssapi.Name("HTTP@localhost", gssapi.NameType.hostbased_service)
creds = gssapi.Credentials(usage="initiate")
print("initiator credentials:", creds.name)
client = gssapi.SecurityContext(name=service, usage="initiate", creds=creds)
server = gssapi.SecurityContext(usage="accept")
handshake(client, server)
print("complete:", client.complete, server.complete)
print("initiator:", server.initiator_name)
print("target:", client.target_name)
print("mutual:", gssapi.RequirementFlag.mutual_authentication in client.actual_flags)
sealed = client.wrap(b"through gssgated", True)
print("unwrapped:", server.unwrap(sealed.message).message.decode(), sealed.encrypted)
server.verify_signature(b"signed", client.get_signature(b"signed"))
print("signature verified")
print("same initiator:", server.initiator_name == gssapi.Name(str(creds.name), gssapi.NameType.kerberos_principal))

# MIT's krb5 extensions that inquire a context by OID, through the module (InquireSecContextByOid):
# the ticket's flags and authtime, the same from both sides; the session key (this rule grants
# export_context), the same on both sides; a lucid context refused with a text that says why.
import gssapi.raw as raw
flags = [raw.krb5_get_tkt_flags(c) for c in (client, server)]
print("ticket flags agree:", flags[0] == flags[1] != 0)
authtimes = [raw.krb5_extract_authtime_from_sec_context(c) for c in (client, server)]
print("authtime agrees:", authtimes[0] == authtimes[1] > 0)
session_key = raw.OID.from_int_seq("1.2.840.113554.1.2.2.5.5")
keys = [raw.inquire_sec_context_by_oid(c, session_key)[0] for c in (client, server)]
print("session keys agree:", keys[0] == keys[1])
try:
    raw.krb5_export_lucid_sec_context(server, 1)
    print("lucid: exported")
except gssapi.exceptions.GSSError as e:
    print("lucid:", e)

# Two failures with different minor codes, then the text of the older one: the module has no
# text of its own for it any more and must answer from com_err, not by asking MIT again (which
# would route the code back to the module, without end).
try:
    server.unwrap(b"not a token")
except gssapi.exceptions.GSSError as e:
    first = e.min_code
try:
    gssapi.SecurityContext(name=gssapi.Name("nosuch@" + sys.argv[1], gssapi.NameType.kerberos_principal), usage="initiate").step()
except gssapi.exceptions.GSSError as e:
    second = e.min_code
print("distinct minors:", first != second)
# (GSSError's constructor asks gss_display_status for the texts of both codes.)
print("older minor text:", gssapi.exceptions.GSSError(13 << 16, first))

# A forked child cannot use its parent's contexts (the daemon holds them for the parent's
# connection), is told why, and makes its own.
import os
me = str(creds.name)  # the child cannot ask the parent's credential (it is the parent's)
pid = os.fork()
if pid == 0:
    try:
        client.wrap(b"from the child", True)
        os._exit(3)
    except gssapi.exceptions.GSSError as e:
        told = "earlier connection to gssgated" in str(e)
    s2 = gssapi.SecurityContext(usage="accept")
    handshake(gssapi.SecurityContext(name=service, usage="initiate"), s2)
    os._exit(0 if told and str(s2.initiator_name) == me else 4)
_, status = os.waitpid(pid, 0)
print("child:", os.waitstatus_to_exitcode(status))
print("parent still:", server.unwrap(client.wrap(b"after the fork", True).message).message.decode())

# Where the rule grants export_context, the initiator's context (session key included) moves into
# this process: MIT re-imports the token with its own krb5, and it still talks to the acceptor,
# which stays in gssgated.
local = gssapi.SecurityContext(token=client.export())
print("moved here:", server.unwrap(local.wrap(b"from the local copy", True).message).message.decode())
try:
    client.wrap(b"x", True)
    print("the exported context still works")
except gssapi.exceptions.GSSError:
    print("the exported context is gone from gssgated")
)";

TEST_F(InterposerTest, PythonGssapiRunsBothSidesThroughGssgated) {
  const std::string script = kdc_->path("python-through-gssgated.py");
  std::ofstream(script) << kPythonHandshake << kPythonProgram;
  chmod(script.c_str(), 0644);
  absl::StatusOr<RunResult> python =
      run(as_uid(kBoth, {"/usr/bin/python3", script, kdc_->realm()}), program_env());
  ASSERT_TRUE(python.ok()) << python.status();
  EXPECT_EQ(python->exit_code, 0) << python->output;
  EXPECT_THAT(python->output, HasSubstr(absl::StrCat("initiator credentials: ", alice(), "\n")));
  EXPECT_THAT(python->output, HasSubstr("complete: True True\n"));
  EXPECT_THAT(python->output, HasSubstr(absl::StrCat("initiator: ", alice(), "\n")));
  EXPECT_THAT(python->output, HasSubstr(absl::StrCat("target: ", service_principal(), "\n")));
  EXPECT_THAT(python->output, HasSubstr("mutual: True\n"));
  EXPECT_THAT(python->output, HasSubstr("unwrapped: through gssgated True\n"));
  EXPECT_THAT(python->output, HasSubstr("signature verified\n"));
  EXPECT_THAT(python->output, HasSubstr("same initiator: True\n"));
  EXPECT_THAT(python->output, HasSubstr("ticket flags agree: True\n"));
  EXPECT_THAT(python->output, HasSubstr("authtime agrees: True\n"));
  EXPECT_THAT(python->output, HasSubstr("session keys agree: True\n"));
  EXPECT_THAT(python->output, HasSubstr("lucid: "));
  EXPECT_THAT(python->output, HasSubstr("not for 1.2.840.113554.1.2.2.5.6.1: a lucid context needs "
                                        "the keys in the process"));
  EXPECT_THAT(python->output, HasSubstr("distinct minors: True\n"));
  EXPECT_THAT(python->output, HasSubstr("older minor text: "));
  EXPECT_THAT(python->output, HasSubstr("child: 0\n"));
  EXPECT_THAT(python->output, HasSubstr("parent still: after the fork\n"));
  EXPECT_THAT(python->output, HasSubstr("moved here: from the local copy\n"));
  EXPECT_THAT(python->output, HasSubstr("the exported context is gone from gssgated\n"));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("op=export_context uid=", kBoth)));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("op=accept uid=", kBoth)));
  // Without the opt-in the same program has nothing to act with.
  absl::StatusOr<RunResult> alone =
      run(as_uid(kBoth, {"/usr/bin/python3", script, kdc_->realm()}),
          program_env(/*interpose=*/false));
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_NE(alone->exit_code, 0);
  EXPECT_THAT(alone->output, HasSubstr("MissingCredentialsError"));
}

// The web case the project exists for: Apache with mod_auth_gssapi accepts HTTP Negotiate for a
// site whose keytab it cannot read (its children run as www-data), and curl --negotiate, run as
// kClient with no ccache, authenticates to it. Both are Debian's binaries, unmodified; both
// interpose. Apache listens on 127.0.0.1 only and is stopped by the test.
TEST_F(InterposerTest, CurlNegotiatesWithApacheModAuthGssapiBothThroughGssgated) {
  auto apache = find_tool("apache2", "apache2");
  auto curl = find_tool("curl", "curl");
  ASSERT_TRUE(apache.ok()) << apache.status();
  ASSERT_TRUE(curl.ok()) << curl.status();
  const std::string modules = "/usr/lib/apache2/modules";
  ASSERT_EQ(access((modules + "/mod_auth_gssapi.so").c_str(), R_OK), 0)
      << "install the Debian package libapache2-mod-auth-gssapi";
  // The port: the fixture's listener, closed so that Apache can bind it.
  const int port = port_;
  close(listener_);
  listener_ = -1;
  const std::string root = kdc_->path("apache");
  mkdir(root.c_str(), 0755);
  mkdir((root + "/htdocs").c_str(), 0755);
  std::ofstream(root + "/htdocs/index.html") << "a page behind Kerberos\n";
  mkdir((root + "/htdocs/local").c_str(), 0755);
  std::ofstream(root + "/htdocs/local/index.html") << "a page for local users\n";
  const std::string conf = root + "/httpd.conf";
  std::ofstream(conf) << absl::StrCat(
      "ServerRoot ", root, "\nServerName localhost\nListen 127.0.0.1:", port,
      "\nPidFile ", root, "/httpd.pid\nErrorLog ", root, "/error.log\nLogLevel info\n",
      "LoadModule mpm_prefork_module ", modules, "/mod_mpm_prefork.so\n",
      "LoadModule authn_core_module ", modules, "/mod_authn_core.so\n",
      "LoadModule authz_core_module ", modules, "/mod_authz_core.so\n",
      "LoadModule authz_user_module ", modules, "/mod_authz_user.so\n",
      "LoadModule headers_module ", modules, "/mod_headers.so\n",
      "LoadModule auth_gssapi_module ", modules, "/mod_auth_gssapi.so\n",
      "User www-data\nGroup www-data\nStartServers 1\nMinSpareServers 1\n",
      "DocumentRoot ", root, "/htdocs\n",
      "<Location />\n  AuthType GSSAPI\n  AuthName \"gssgate\"\n  GssapiAllowedMech krb5\n",
      "  GssapiBasicAuth Off\n  Require valid-user\n",
      "  Header always set X-Remote-User \"expr=%{REMOTE_USER}\"\n</Location>\n",
      // REMOTE_USER as the local account (gss_localname, through the module).
      "<Location /local/>\n  GssapiLocalName On\n</Location>\n");
  Env apache_env = program_env();
  Child server({*apache, "-f", conf, "-DFOREGROUND"}, apache_env, -1, root + "/stdout.log");
  // Up once the port answers.
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    const int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    up = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(probe);
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(up) << read_file(root + "/error.log") << read_file(root + "/stdout.log");

  const std::string url = absl::StrCat("http://localhost:", port, "/index.html");
  auto fetch = [&](const Env& env, std::vector<std::string> how, uid_t uid = kClient,
                   const std::string& at = "") {
    std::vector<std::string> argv = {*curl, "-4", "-s", "-S", "-D", "-"};
    argv.insert(argv.end(), how.begin(), how.end());
    argv.push_back(at.empty() ? url : at);
    absl::StatusOr<RunResult> result = run(as_uid(uid, argv), env);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->output : std::string();
  };
  // The keytab Apache's site uses is not readable by Apache's user.
  absl::StatusOr<RunResult> peek = run(as_uid(kWebUser, {"/bin/cat", service_keytab_}), {});
  ASSERT_TRUE(peek.ok());
  EXPECT_NE(peek->exit_code, 0);
  EXPECT_THAT(peek->output, HasSubstr("Permission denied"));

  // -v shows the Authorization header curl sent (kept for the replay below).
  const std::string page = fetch(program_env(), {"-v", "--negotiate", "-u", ":"});
  EXPECT_THAT(page, HasSubstr("HTTP/1.1 200 OK")) << page << read_file(root + "/error.log");
  EXPECT_THAT(page, HasSubstr(absl::StrCat("X-Remote-User: ", alice())));
  EXPECT_THAT(page, HasSubstr("a page behind Kerberos"));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("op=accept uid=", kWebUser)));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("op=init uid=", kClient)));

  // GssapiLocalName: mod_auth_gssapi asks gss_localname for the account, which the module
  // answers with MIT's auth_to_local in Apache's process.
  const std::string local_page =
      fetch(program_env(), {"--negotiate", "-u", ":"}, kClient,
            absl::StrCat("http://localhost:", port, "/local/index.html"));
  EXPECT_THAT(local_page, HasSubstr("HTTP/1.1 200 OK"))
      << local_page << read_file(root + "/error.log");
  EXPECT_THAT(local_page, HasSubstr("X-Remote-User: alice\r\n"));
  EXPECT_THAT(local_page, HasSubstr("a page for local users"));

  // A user whose Kerberos tickets live only in a ccache gssgated holds (the rule's ccache, which
  // that user cannot read): curl authenticates as alice from it.
  absl::StatusOr<RunResult> peek_ccache = run(as_uid(kCcacheUser, {"/bin/cat", ccache_}), {});
  ASSERT_TRUE(peek_ccache.ok());
  EXPECT_NE(peek_ccache->exit_code, 0);
  const std::string from_ccache = fetch(program_env(), {"--negotiate", "-u", ":"}, kCcacheUser);
  EXPECT_THAT(from_ccache, HasSubstr("HTTP/1.1 200 OK")) << from_ccache;
  EXPECT_THAT(from_ccache, HasSubstr(absl::StrCat("X-Remote-User: ", alice())));
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("op=init uid=", kCcacheUser)));

  // curl without the opt-in has no ticket to offer: 401, and no page.
  const std::string refused = fetch(program_env(/*interpose=*/false), {"--negotiate", "-u", ":"});
  EXPECT_THAT(refused, HasSubstr("HTTP/1.1 401"));
  EXPECT_THAT(refused, Not(HasSubstr("a page behind Kerberos")));

  // The same Negotiate header sent again is a replay: the daemon's replay cache refuses it.
  const std::string marker = "> Authorization: Negotiate ";
  const size_t at = page.find(marker);
  ASSERT_NE(at, std::string::npos) << page;
  const size_t end = page.find_first_of("\r\n", at);
  const std::string header = page.substr(at + 2, end - at - 2);
  const std::string replayed = fetch(program_env(/*interpose=*/false), {"-H", header});
  EXPECT_THAT(replayed, HasSubstr("HTTP/1.1 401")) << replayed;
  EXPECT_THAT(replayed, Not(HasSubstr("a page behind Kerberos")));
  EXPECT_THAT(read_file(root + "/error.log"), HasSubstr("replay")) << read_file(root + "/error.log");
}

TEST_F(InterposerTest, InterposeCheckSaysWhetherAProgramWouldInterposeAndWhyNot) {
  const std::string cli = GSSGATE_CLI_PATH_FOR_TESTS;
  auto check = [&](uid_t uid, const Env& env, std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {cli};
    for (const std::string& arg : args) {
      if (arg == "--json") argv.push_back(arg);  // a global option: before the command
    }
    argv.push_back("interpose-check");
    for (const std::string& arg : args) {
      if (arg != "--json") argv.push_back(arg);
    }
    absl::StatusOr<RunResult> result = run(uid == 0 ? argv : as_uid(uid, argv), env);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : RunResult{-1, ""};
  };
  // The programs' environment, as the client's uid: everything in place.
  RunResult yes = check(kClient, program_env());
  EXPECT_EQ(yes.exit_code, 0) << yes.output;
  EXPECT_THAT(yes.output, HasSubstr("interpose:         yes"));
  EXPECT_THAT(yes.output, HasSubstr(std::string("module:            ") +
                                    GSSGATE_INTERPOSER_FOR_TESTS));
  EXPECT_THAT(yes.output, HasSubstr("rule:              client"));

  // No opt-in: exit 6 and the reason.
  RunResult no_opt_in = check(kClient, program_env(/*interpose=*/false));
  EXPECT_EQ(no_opt_in.exit_code, 6) << no_opt_in.output;
  EXPECT_THAT(no_opt_in.output,
              HasSubstr("neither GSSGATE_INTERPOSE=1 in its environment nor interpose = true in "
                        "its policy rule \"client\""));
  // An explicit opt-out.
  Env out_env = program_env(/*interpose=*/false);
  out_env["GSSGATE_INTERPOSE"] = "0";
  RunResult opted_out = check(kClient, out_env);
  EXPECT_EQ(opted_out.exit_code, 6) << opted_out.output;
  EXPECT_THAT(opted_out.output, HasSubstr("GSSGATE_INTERPOSE=0 opts it out"));

  // A mech config without the module, and a uid without a rule.
  const std::string other_config = kdc_->path("gss-mech-other");
  std::ofstream(other_config) << "# nothing of gssgate's\n";
  chmod(other_config.c_str(), 0644);
  Env env = program_env();
  env["GSS_MECH_CONFIG"] = other_config;
  RunResult no_module = check(kClient, env);
  EXPECT_EQ(no_module.exit_code, 6);
  EXPECT_THAT(no_module.output, HasSubstr("no mech config line loads gssgate-interposer.so"));
  RunResult no_rule = check(kNoRule, program_env(), {"--json"});
  EXPECT_EQ(no_rule.exit_code, 6);
  EXPECT_THAT(no_rule.output, HasSubstr("\"interpose\": \"no\""));
  EXPECT_THAT(no_rule.output, HasSubstr("gssgated has no rule for this uid"));

  // Another process, by pid: the daemon itself, started with the opt-in in its environment.
  RunResult daemon = check(0, {{"PATH", "/usr/bin:/bin"}},
                           {"--pid", std::to_string(daemon_->pid())});
  EXPECT_EQ(daemon.exit_code, 6) << daemon.output;
  EXPECT_THAT(daemon.output, HasSubstr("gssgated never interposes itself"));
  EXPECT_THAT(daemon.output, HasSubstr("GSSGATE_INTERPOSE: 1"));
}

}  // namespace
}  // namespace gssgate::testing
