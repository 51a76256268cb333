// The gssgate command against a real gssgated and KDC, run as root and as unprivileged uids
// (setpriv): each subcommand's output (human and --json), the documented exit codes, and the
// errors that say what to do.

#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uid_t kWebUid = 60021;     // a rule that accepts
constexpr uid_t kNobodyUid = 60022;  // no rule
constexpr gid_t kGroup = 60000;

class CliTest : public RealmTest {
 protected:
  void SetUp() override {
    RealmTest::SetUp();
    if (HasFatalFailure()) return;
    auto d = GssgatedProcess::start(
        *kdc_, absl::StrCat("[[rule]]\nname = \"web\"\nuids = [", kWebUid,
                            "]\nusages = [\"accept\"]\nkeytab = \"", service_keytab_,
                            "\"\n\n[[rule]]\nname = \"ops\"\nuids = [0]\n",
                            "usages = [\"initiate\", \"accept\"]\nkeytab = \"", service_keytab_,
                            "\"\nclient_keytab = \"", client_keytab_, "\"\nadmin = true\n"));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
  }
  void TearDown() override {
    if (daemon_ && daemon_->pid() > 0) {
      absl::Status s = daemon_->stop_cleanly();
      EXPECT_TRUE(s.ok()) << s;
    }
  }

  // Runs `gssgate --socket S ARGS...` as `uid` (0: as the test, root).
  RunResult gssgate(uid_t uid, std::vector<std::string> args, const std::string& socket = "") {
    std::vector<std::string> argv;
    if (uid != 0) {
      auto setpriv = find_tool("setpriv", "util-linux");
      EXPECT_TRUE(setpriv.ok()) << setpriv.status();
      argv = {setpriv.value_or("/usr/bin/setpriv"), absl::StrCat("--reuid=", uid),
              absl::StrCat("--regid=", kGroup), "--clear-groups"};
    }
    argv.push_back(GSSGATE_CLI_PATH_FOR_TESTS);
    argv.push_back("--socket");
    argv.push_back(socket.empty() ? daemon_->socket() : socket);
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, {{"PATH", "/usr/bin:/bin"}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(RunResult{-1, ""});
  }

  std::unique_ptr<GssgatedProcess> daemon_;
};

TEST_F(CliTest, StatusAndWhoamiDescribeTheDaemonAndTheCaller) {
  RunResult status = gssgate(0, {"status"});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("daemon:         serving"));
  EXPECT_THAT(status.output, HasSubstr("version:        0.1.0"));
  EXPECT_THAT(status.output, HasSubstr("rules:          2"));

  RunResult who = gssgate(kWebUid, {"--json", "whoami"});
  EXPECT_EQ(who.exit_code, 0) << who.output;
  EXPECT_THAT(who.output, StartsWith("{\"uid\": 60021, \"gid\": 60000, \"pid\": "));
  EXPECT_THAT(who.output, HasSubstr("\"rule\": \"web\", \"grants\": [\"accept\"]"));
  EXPECT_THAT(who.output, HasSubstr(absl::StrCat("\"stores\": [\"keytab=", service_keytab_)));

  RunResult root = gssgate(0, {"whoami"});
  EXPECT_THAT(root.output, HasSubstr("grants:       initiate, accept, admin"));
}

// A probe's command (deploy/kubernetes): the health service needs no policy rule.
TEST_F(CliTest, HealthAnswersEveryCallerAndSaysWhenTheDaemonIsDown) {
  RunResult health = gssgate(kNobodyUid, {"--json", "health"});
  EXPECT_EQ(health.exit_code, 0) << health.output;
  EXPECT_EQ(health.output,
            absl::StrCat("{\"socket\": \"", daemon_->socket(), "\", \"health\": \"SERVING\"}\n"));
  const std::string nowhere = kdc_->path("nowhere.sock");
  RunResult down = gssgate(0, {"health"}, nowhere);
  EXPECT_EQ(down.exit_code, 3) << down.output;
  EXPECT_THAT(down.output, HasSubstr("daemon not running at " + nowhere));
  RunResult wire = gssgate(0, {"health"}, "wire:" + daemon_->wire_socket());
  EXPECT_EQ(wire.exit_code, 2) << wire.output;
  EXPECT_THAT(wire.output, HasSubstr("health asks the gRPC socket"));
}

TEST_F(CliTest, ErrorsSayWhatToDoWithDocumentedExitCodes) {
  RunResult no_rule = gssgate(kNobodyUid, {"whoami"});
  EXPECT_EQ(no_rule.exit_code, 4) << no_rule.output;
  EXPECT_THAT(no_rule.output, HasSubstr("no policy rule for uid 60022"));
  EXPECT_THAT(no_rule.output, HasSubstr("ask the administrator"));

  const std::string nowhere = kdc_->path("nowhere.sock");
  RunResult down = gssgate(0, {"--json", "status"}, nowhere);
  EXPECT_EQ(down.exit_code, 3) << down.output;
  EXPECT_THAT(down.output, HasSubstr("daemon not running at " + nowhere));
  EXPECT_THAT(down.output, HasSubstr("\"exit\": 3"));

  EXPECT_EQ(gssgate(0, {"frobnicate"}).exit_code, 2);
  EXPECT_EQ(gssgate(0, {"init"}).exit_code, 2);
  EXPECT_EQ(gssgate(0, {"accept", "!!!"}).exit_code, 2);
  EXPECT_EQ(gssgate(0, {"acquire", "--lifetime", "soon"}).exit_code, 2);
  RunResult help = gssgate(0, {"help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("exit codes: 0 ok, 1 GSSAPI failure"));

  RunResult all = gssgate(kWebUid, {"handles", "--all"});
  EXPECT_EQ(all.exit_code, 4) << all.output;
  EXPECT_THAT(all.output, HasSubstr("(needed for listing every caller's handles); an "
                                    "administrator can set admin = true"));
  EXPECT_EQ(gssgate(kWebUid, {"reload"}).exit_code, 4);
  // Every refusal of a right goes one way: with an audit line (these two once had none).
  EXPECT_THAT(daemon_->log(), HasSubstr(absl::StrCat("audit op=list_handles uid=", kWebUid)));
  EXPECT_THAT(daemon_->log(),
              HasSubstr("reason=\"policy rule \\\"web\\\" does not grant admin to uid"));
  EXPECT_THAT(daemon_->log(), HasSubstr(absl::StrCat("audit op=reload uid=", kWebUid)));

  // A GSSAPI failure: a token that is no Kerberos token.
  RunResult bad = gssgate(kWebUid, {"accept", "AAAA"});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("Major ("));
}

TEST_F(CliTest, InitAndAcceptCompleteAHandshakeThroughTheCommand) {
  RunResult init = gssgate(0, {"--json", "init", "HTTP@localhost"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  const std::string key = "\"token\": \"";
  size_t at = init.output.find(key);
  ASSERT_NE(at, std::string::npos) << init.output;
  std::string token = init.output.substr(at + key.size());
  token = token.substr(0, token.find('"'));
  EXPECT_THAT(init.output, HasSubstr("\"requested_flags\": [\"mutual_authentication\", "
                                     "\"out_of_sequence_detection\"]"));

  RunResult accept = gssgate(kWebUid, {"accept", token});
  EXPECT_EQ(accept.exit_code, 0) << accept.output;
  EXPECT_THAT(accept.output, HasSubstr("complete:          yes"));
  EXPECT_THAT(accept.output, HasSubstr("initiator:         " + alice()));
  EXPECT_THAT(accept.output, HasSubstr("mutual_authentication"));

  // HTTP Negotiate (SPNEGO): the header the initiator prints is what the acceptor takes.
  RunResult negotiate = gssgate(0, {"init", "HTTP@localhost", "--negotiate"});
  ASSERT_EQ(negotiate.exit_code, 0) << negotiate.output;
  at = negotiate.output.find("Authorization: Negotiate ");
  ASSERT_NE(at, std::string::npos) << negotiate.output;
  std::string header = negotiate.output.substr(at);
  header = header.substr(0, header.find('\n'));
  RunResult spnego = gssgate(kWebUid, {"accept", header});
  EXPECT_EQ(spnego.exit_code, 0) << spnego.output;
  EXPECT_THAT(spnego.output, HasSubstr("initiator:         " + alice()));
}

TEST_F(CliTest, AcquireHandlesAndReload) {
  RunResult acquire = gssgate(0, {"acquire", "--usage", "initiate"});
  EXPECT_EQ(acquire.exit_code, 0) << acquire.output;
  EXPECT_THAT(acquire.output, HasSubstr("name:     " + alice()));
  EXPECT_THAT(acquire.output, HasSubstr("usage:    initiate"));
  EXPECT_THAT(acquire.output, HasSubstr("krb5 (1.2.840.113554.1.2.2)"));

  // A live caller holding a credential shows up for the admin, never with its handle id.
  auto caller = daemon_->caller(kWebUid, kGroup);
  ASSERT_TRUE(caller.ok()) << caller.status();
  auto held = (*caller)->request("acquire accept");
  ASSERT_TRUE(held.ok() && held->rfind("OK", 0) == 0) << held.value_or("");
  RunResult all = gssgate(0, {"--json", "handles", "--all"});
  EXPECT_EQ(all.exit_code, 0) << all.output;
  EXPECT_THAT(all.output, HasSubstr("\"count\": 1"));
  EXPECT_THAT(all.output, HasSubstr("{\"kind\": \"credential\", \"uid\": 60021, "));
  RunResult own = gssgate(kWebUid, {"handles"});
  EXPECT_THAT(own.output, HasSubstr("count:   1"));

  RunResult reload = gssgate(0, {"reload"});
  EXPECT_EQ(reload.exit_code, 0) << reload.output;
  EXPECT_THAT(reload.output, HasSubstr("rules:    2"));
  EXPECT_TRUE(daemon_->wait_for_log("audit op=reload")) << daemon_->log();
}

TEST_F(CliTest, MetricsCountCallsOutcomesDenialsAndKdcErrorsForAdminsOnly) {
  // Traffic to count: a handshake (one accept), a denial, a held credential, a KDC failure.
  RunResult init = gssgate(0, {"--json", "init", "HTTP@localhost"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  std::string token = init.output.substr(init.output.find("\"token\": \"") + 10);
  token = token.substr(0, token.find('"'));
  ASSERT_EQ(gssgate(kWebUid, {"accept", token}).exit_code, 0);
  ASSERT_EQ(gssgate(kWebUid, {"reload"}).exit_code, 4);
  auto caller = daemon_->caller(kWebUid, kGroup);
  ASSERT_TRUE(caller.ok()) << caller.status();
  ASSERT_TRUE((*caller)->request("acquire accept").ok());
  ASSERT_TRUE(kdc_->stop().ok());
  RunResult unreachable = gssgate(0, {"init", "host@nowhere.invalid"});
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.output;

  RunResult denied = gssgate(kWebUid, {"metrics"});
  EXPECT_EQ(denied.exit_code, 4) << denied.output;
  EXPECT_THAT(denied.output, HasSubstr("does not grant admin to uid"));

  RunResult m = gssgate(0, {"metrics"});
  ASSERT_EQ(m.exit_code, 0) << m.output;
  const std::string& text = m.output;
  EXPECT_THAT(text, HasSubstr("# TYPE gssgate_calls_total counter\n"));
  EXPECT_THAT(text, HasSubstr("gssgate_calls_total{rpc=\"AcceptSecContext\",outcome=\"ok\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("gssgate_calls_total{rpc=\"Reload\",outcome=\"denied\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("gssgate_calls_total{rpc=\"InitSecContext\",outcome=\"gss_error\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("gssgate_denials_total 2\n"));  // reload, and metrics above
  EXPECT_THAT(text, HasSubstr("gssgate_kdc_errors_total 1\n"));
  EXPECT_THAT(text, HasSubstr("gssgate_live_handles{kind=\"credential\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("gssgate_live_handles{kind=\"context\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("gssgate_call_duration_seconds_count{rpc=\"AcceptSecContext\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("gssgate_call_duration_seconds_bucket{rpc=\"AcceptSecContext\",le=\"+Inf\"} 1\n"));
  // Every line is a comment or `name{labels} value`, as the exposition format requires.
  std::istringstream lines(text);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(
        line, std::regex(R"(gssgate_[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9.e+-]+)")))
        << line;
    ++samples;
  }
  EXPECT_GT(samples, 10);
}

}  // namespace
}  // namespace gssgate::testing
