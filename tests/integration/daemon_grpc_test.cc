// gssgated as a gRPC server and as a command: the standard health and reflection services that
// generic gRPC tools use, the connection limit, draining on SIGTERM, and --check-config.

#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc_reflection_subset.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr uid_t kUser = 60011;
constexpr gid_t kGroup = 60000;

class DaemonServerTest : public RealmTest {
 protected:
  void start(const std::string& daemon_extra = "") {
    auto d = GssgatedProcess::start(*kdc_, rules(), daemon_extra);
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
  }
  void TearDown() override {
    if (daemon_ && daemon_->pid() > 0) {
      absl::Status s = daemon_->stop_cleanly();
      EXPECT_TRUE(s.ok()) << s;
    }
  }
  // The test process itself (root) has a rule too: its raw connections are a ruled caller's,
  // counted in the connection limits (a caller without a rule is not; DaemonTest covers that).
  std::string rules() const {
    return absl::StrCat("[[rule]]\nname = \"user\"\nuids = [", kUser,
                        "]\nusages = [\"accept\"]\nkeytab = \"", service_keytab_, "\"\n\n",
                        "[[rule]]\nname = \"test\"\nuids = [", getuid(),
                        "]\nusages = [\"accept\"]\nkeytab = \"", service_keytab_, "\"\n");
  }
  std::shared_ptr<grpc::Channel> channel() const {
    return grpc::CreateChannel("unix:" + daemon_->socket(), grpc::InsecureChannelCredentials());
  }
  static void deadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  std::unique_ptr<GssgatedProcess> daemon_;
};

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() { close(fd_); }
  bool bound() const { return bound_; }
  // Collects datagrams until one received during this call contains `needle`; returns what this
  // call received, or "" after the timeout.
  std::string wait_for(const std::string& needle, int timeout_ms = 10000) {
    received_.clear();
    for (int waited = 0; waited < timeout_ms; waited += 50) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        char buf[4096];
        ssize_t n = recv(fd_, buf, sizeof(buf), 0);
        if (n > 0) received_.append(buf, static_cast<size_t>(n)).append("\n--\n");
        if (received_.find(needle) != std::string::npos) return received_;
      }
    }
    return "";
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::string received_;
};

TEST_F(DaemonServerTest, TellsSystemdWhenReadyReloadingAndStopping) {
  NotifySocket notify(kdc_->path("notify.sock"));
  ASSERT_TRUE(notify.bound());
  auto d = GssgatedProcess::start(
      *kdc_, rules(),
      GssgatedOptions{.extra_env = {{"NOTIFY_SOCKET", kdc_->path("notify.sock")},
                                    {"WATCHDOG_USEC", "400000"}}});
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  std::string got = notify.wait_for("READY=1");
  EXPECT_THAT(got, HasSubstr(absl::StrCat("MAINPID=", daemon_->pid())));
  EXPECT_THAT(got, HasSubstr("STATUS=serving on " + daemon_->socket()));
  // WatchdogSec=0.4s: keep-alives at least every 0.2 s.
  EXPECT_THAT(notify.wait_for("WATCHDOG=1", 2000), HasSubstr("WATCHDOG=1"));
  ASSERT_TRUE(daemon_->reload(rules()).ok());
  ASSERT_THAT(notify.wait_for("RELOADING=1"), HasSubstr("RELOADING=1"));
  EXPECT_THAT(notify.wait_for("READY=1"), HasSubstr("READY=1"));
  kill(daemon_->pid(), SIGTERM);
  EXPECT_THAT(notify.wait_for("STOPPING=1"), HasSubstr("STOPPING=1"));
}

TEST_F(DaemonServerTest, LogLinesCarrySyslogPrioritiesForTheJournal) {
  // A JOURNAL_STREAM that names another file (inherited from a parent whose stderr was the
  // journal) is ignored: plain lines.
  auto other = GssgatedProcess::start(*kdc_, rules(),
                                      GssgatedOptions{.extra_env = {{"JOURNAL_STREAM", "8:1234"}}});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_THAT((*other)->log(), Not(StartsWith("<"))) << (*other)->log();
  EXPECT_THAT((*other)->log(), HasSubstr(" info gssgated ")) << (*other)->log();
  ASSERT_TRUE((*other)->stop_cleanly().ok());
  // systemd sets JOURNAL_STREAM to stderr's dev:ino when stderr is the journal, which then reads
  // "<N>" prefixes.
  auto d = GssgatedProcess::start(*kdc_, rules(), GssgatedOptions{.journal_stream = true});
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  EXPECT_THAT(daemon_->log(), StartsWith("<6>gssgated "));  // info: the serving line
  ASSERT_TRUE(daemon_->reload_raw("[daemon\n").ok());       // a broken policy: an error line
  EXPECT_TRUE(daemon_->wait_for_log("<3>reload failed")) << daemon_->log();
}

TEST_F(DaemonServerTest, JsonLogLinesCarryStructuredAuditFields) {
  auto d = GssgatedProcess::start(*kdc_, rules(),
                                  GssgatedOptions{.extra_args = {"--log-format", "json"}});
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  auto caller = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(caller.ok()) << caller.status();
  ASSERT_TRUE((*caller)->request("acquire accept").ok());
  ASSERT_TRUE((*caller)->request("acquire initiate").ok());  // the rule grants accept only
  ASSERT_TRUE(daemon_->wait_for_log("\"outcome\": \"denied\"")) << daemon_->log();
  std::istringstream lines(daemon_->log());
  std::string line;
  int audits = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    EXPECT_THAT(line, StartsWith("{\"time\": \"")) << line;
    EXPECT_EQ(line.back(), '}') << line;
    if (line.find("\"audit\": {") != std::string::npos) ++audits;
  }
  EXPECT_GE(audits, 2);
  EXPECT_THAT(daemon_->log(),
              HasSubstr(absl::StrCat("\"audit\": {\"op\": \"acquire\", \"uid\": \"", kUser, "\"")));
  EXPECT_THAT(daemon_->log(),
              HasSubstr("\"reason\": \"policy rule \\\"user\\\" does not grant initiate to uid "
                        "60011 (needed for acquiring initiator credentials); an administrator can "
                        "add \\\"initiate\\\" to its usages\", \"outcome\": \"denied\"}}"));
}

TEST_F(DaemonServerTest, ServesASocketPassedBySystemdSocketActivation) {
  auto d = GssgatedProcess::start(*kdc_, rules(), GssgatedOptions{.socket_activated = true});
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  EXPECT_TRUE(daemon_->wait_for_log(
      absl::StrCat(daemon_->socket(), " (grpc listener grpc, socket from systemd)")))
      << daemon_->log();
  auto stub = grpc::health::v1::Health::NewStub(channel());
  grpc::ClientContext ctx;
  deadline(&ctx);
  grpc::health::v1::HealthCheckResponse reply;
  grpc::Status s = stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &reply);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << daemon_->log();
  EXPECT_EQ(reply.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // A real caller, as another uid, is served on it too, once the socket's mode lets it connect
  // (SocketMode= in gssgated.socket; systemd-socket-activate has no such option).
  ASSERT_EQ(chmod(daemon_->socket().c_str(), 0666), 0);
  auto caller = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(caller.ok()) << caller.status();
  auto r = (*caller)->request("indicate");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, StartsWith("OK"));
  // The wire socket came as the other descriptor (gssgated.socket's ListenSequentialPacket=);
  // gssgated gave each to the listener at its path, by type, and serves this one with the wire
  // protocol.
  EXPECT_THAT(daemon_->log(), HasSubstr(absl::StrCat(daemon_->wire_socket(),
                                                     " (wire listener wire, socket from systemd)")));
  ASSERT_EQ(chmod(daemon_->wire_socket().c_str(), 0666), 0);
  auto setpriv = find_tool("setpriv", "util-linux");
  ASSERT_TRUE(setpriv.ok()) << setpriv.status();
  auto whoami = run({*setpriv, absl::StrCat("--reuid=", kUser), absl::StrCat("--regid=", kGroup),
                     "--clear-groups", GSSGATE_CLI_PATH_FOR_TESTS, "--socket",
                     absl::StrCat("wire:", daemon_->wire_socket()), "whoami"},
                    {{"PATH", "/usr/bin:/bin"}});
  ASSERT_TRUE(whoami.ok()) << whoami.status();
  EXPECT_EQ(whoami->exit_code, 0) << whoami->output << daemon_->log();
  EXPECT_THAT(whoami->output, HasSubstr(absl::StrCat("uid:          ", kUser, "\n")));
  EXPECT_THAT(whoami->output, HasSubstr("rule:         user\n"));
}

TEST_F(DaemonServerTest, StandardHealthServiceReportsServing) {
  start();
  if (HasFatalFailure()) return;
  auto stub = grpc::health::v1::Health::NewStub(channel());
  grpc::ClientContext ctx;
  deadline(&ctx);
  grpc::health::v1::HealthCheckResponse reply;
  grpc::Status s = stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // By service name: ours, and one it does not serve (NOT_FOUND, as the protocol says).
  grpc::health::v1::HealthCheckRequest named;
  named.set_service("gssgate.v1.Gssgate");
  grpc::ClientContext ctx2;
  deadline(&ctx2);
  ASSERT_TRUE(stub->Check(&ctx2, named, &reply).ok());
  EXPECT_EQ(reply.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  named.set_service("some.other.Service");
  grpc::ClientContext ctx3;
  deadline(&ctx3);
  s = stub->Check(&ctx3, named, &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("some.other.Service"));
  // Watch is not served (a sync stream would hold a call thread as long as a caller liked).
  grpc::ClientContext ctx4;
  deadline(&ctx4);
  auto watch = stub->Watch(&ctx4, grpc::health::v1::HealthCheckRequest());
  EXPECT_FALSE(watch->Read(&reply));
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(DaemonServerTest, ReflectionListsTheServiceAndDescribesItsMethods) {
  start();
  if (HasFatalFailure()) return;
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel());
  grpc::ClientContext ctx;
  deadline(&ctx);
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> services;
  for (const auto& svc : response.list_services_response().service()) services.insert(svc.name());
  EXPECT_THAT(services, Contains("gssgate.v1.Gssgate"));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));

  request.set_file_containing_symbol("gssgate.v1.Gssgate");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_GT(response.file_descriptor_response().file_descriptor_proto_size(), 0)
      << response.DebugString();
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(response.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.package(), "gssgate.v1");
  std::set<std::string> methods;
  for (const auto& svc : file.service()) {
    for (const auto& m : svc.method()) methods.insert(m.name());
  }
  for (const char* rpc : {"AcquireCreds", "InitSecContext", "AcceptSecContext", "Wrap", "Unwrap",
                          "ExportContext", "ImportContext", "DeleteSecContext", "IndicateMechs"}) {
    EXPECT_THAT(methods, Contains(rpc));
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(DaemonServerTest, ConnectionsBeyondTheLimitAreRefusedAndLoggedOthersKeepWorking) {
  start("max_connections = 2\n");
  if (HasFatalFailure()) return;
  auto first = daemon_->caller(kUser, kGroup);
  auto second = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_THAT(*(*first)->request("indicate"), StartsWith("OK"));
  ASSERT_THAT(*(*second)->request("indicate"), StartsWith("OK"));

  auto third = daemon_->caller(kUser, kGroup, /*fail_fast=*/true);
  ASSERT_TRUE(third.ok());
  auto refused = (*third)->request("indicate");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_THAT(*refused, StartsWith("RPC code=14 "));  // UNAVAILABLE
  EXPECT_TRUE(daemon_->wait_for_log("connection refused: listener grpc reached its limit of 2 "
                                    "connections"))
      << daemon_->log();
  EXPECT_THAT(*(*first)->request("indicate"), StartsWith("OK"));

  // A freed slot is usable again.
  first->reset();
  ASSERT_TRUE(daemon_->wait_for_log("connection 1 closed"));
  auto fourth = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(fourth.ok());
  EXPECT_THAT(*(*fourth)->request("indicate"), StartsWith("OK"));
}

// A raw connection to the daemon's socket, for callers that do not speak gRPC properly.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  void send_bytes(const std::string& bytes) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    (void)n;
  }
  // Whether the daemon closes the connection within `timeout_ms` (reads and drops its bytes).
  bool closed_within(int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 50) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        char buf[4096];
        ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
      }
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// Callers that connect and send nothing, stop inside their first frame, send garbage, or flood
// the socket from one uid: refused or closed, and another uid is served throughout.
TEST_F(DaemonServerTest, SilentTruncatedGarbageAndFloodingConnectionsDoNotStarveOthers) {
  start("max_connections_per_uid = 3\nfirst_call_timeout = 2\n");
  if (HasFatalFailure()) return;
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  RawConnection silent(daemon_->socket());
  RawConnection truncated(daemon_->socket());
  RawConnection garbage(daemon_->socket());
  ASSERT_TRUE(silent.connected() && truncated.connected() && garbage.connected());
  truncated.send_bytes(preface + std::string("\x00\x00", 2));  // half a frame header
  garbage.send_bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(garbage.closed_within(5000)) << "not HTTP/2: closed by gRPC at once";

  // The test's uid now holds what its limit allows (the garbage one may still be counted until
  // its close is seen): one more is refused at once, and logged.
  ASSERT_TRUE(daemon_->wait_for_log("connection 3 closed")) << daemon_->log();
  RawConnection third(daemon_->socket());
  RawConnection flood(daemon_->socket());
  EXPECT_TRUE(flood.closed_within(5000)) << daemon_->log();
  EXPECT_TRUE(
      daemon_->wait_for_log("already holds 3 connections on listener grpc (max_connections_per_uid)"));

  // Another uid is served meanwhile.
  auto c = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(*(*c)->request("indicate"), StartsWith("OK"));

  // The ones that never made a call are closed after first_call_timeout.
  EXPECT_TRUE(silent.closed_within(10000));
  EXPECT_TRUE(truncated.closed_within(10000));
  EXPECT_TRUE(daemon_->wait_for_log("made no call within 2s; closed")) << daemon_->log();
  EXPECT_THAT(*(*c)->request("indicate"), StartsWith("OK"))
      << "a connection that has called stays open";
}

TEST_F(DaemonServerTest, OutOfFileDescriptorsRefusesNewConnectionsCleanlyAndRecovers) {
  // 64 descriptors, soft and hard, so gssgated cannot raise the limit: each connection takes
  // three, and a few dozen are already gssgated's own.
  auto d = GssgatedProcess::start(
      *kdc_, rules(),
      GssgatedOptions{.daemon_extra = "first_call_timeout = 60\n", .open_files_limit = 64});
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  auto served = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(served.ok());
  ASSERT_THAT(*(*served)->request("indicate"), StartsWith("OK"));

  std::vector<std::unique_ptr<RawConnection>> hogs;
  bool refused = false;
  for (int i = 0; i < 40 && !refused; ++i) {
    hogs.push_back(std::make_unique<RawConnection>(daemon_->socket()));
    ASSERT_TRUE(hogs.back()->connected()) << "the backlog takes it; the daemon decides";
    // Refused: closed at once rather than left hanging in the backlog. Which refusal runs (accept4
    // failing and the reserve descriptor making room, or the listener's duplicate failing after
    // the accept) depends on how many descriptors are left; both must close and log the same.
    refused = hogs.back()->closed_within(300);
  }
  ASSERT_TRUE(refused) << "40 connections never ran the daemon out of descriptors";
  EXPECT_TRUE(daemon_->wait_for_log("connection refused: gssgated is out of file descriptors"))
      << daemon_->log();
  auto still = (*served)->request("indicate");
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_THAT(*still, StartsWith("OK")) << "a connection made before keeps being served";

  hogs.clear();  // their close frees descriptors
  std::unique_ptr<LineChild> fresh;
  for (int i = 0; i < 50 && !fresh; ++i) {
    auto c = daemon_->caller(kUser, kGroup);
    ASSERT_TRUE(c.ok());
    auto reply = (*c)->request("indicate");
    if (reply.ok() && absl::StartsWith(*reply, "OK"))
      fresh = std::move(*c);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(fresh) << "a new connection is served once others have closed";
}

TEST_F(DaemonServerTest, SigtermDrainsExitsZeroAndRemovesTheSocket) {
  start();
  if (HasFatalFailure()) return;
  auto c = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(c.ok());
  ASSERT_THAT(*(*c)->request("indicate"), StartsWith("OK"));
  struct stat st {};
  ASSERT_EQ(stat(daemon_->socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666u) << "mode from the [daemon] section";
  auto code = daemon_->stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_NE(stat(daemon_->socket().c_str(), &st), 0);
  EXPECT_THAT(daemon_->log(), HasSubstr("draining"));
}

TEST_F(DaemonServerTest, AStaleSocketIsReplacedAndALiveOneIsNot) {
  start();
  if (HasFatalFailure()) return;
  // A second daemon on the same live socket must refuse to start and leave the first serving.
  auto second = GssgatedProcess::start(*kdc_, rules());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("another server is accepting"));
  auto c = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(*(*c)->request("indicate"), StartsWith("OK"));

  // A daemon killed outright leaves its socket file behind; the next one replaces it.
  kill(daemon_->pid(), SIGKILL);
  c->reset();
  struct stat st {};
  ASSERT_EQ(stat(daemon_->socket().c_str(), &st), 0) << "the stale socket is still there";
  auto restarted = GssgatedProcess::start(*kdc_, rules());
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  daemon_ = std::move(*restarted);
  auto again = daemon_->caller(kUser, kGroup);
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*(*again)->request("indicate"), StartsWith("OK"));
}

TEST_F(DaemonServerTest, CheckConfigPrintsTheRulesOrTheLineOfTheError) {
  auto tool = GSSGATED_PATH_FOR_TESTS;
  std::string good = kdc_->path("good.toml");
  std::string bad = kdc_->path("bad.toml");
  std::ofstream(good) << "[daemon]\nsocket = \"/run/x.sock\"\n\n" << rules();
  std::ofstream(bad) << "[daemon]\nsocket = \"/run/x.sock\"\n[[rule]]\nname = \"r\"\nuid = [1]\n";
  auto ok = run({tool, "--check-config", good}, kdc_->env());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->exit_code, 0) << ok->output;
  EXPECT_THAT(ok->output, HasSubstr(": OK"));
  EXPECT_THAT(ok->output, HasSubstr("[user]"));
  EXPECT_THAT(ok->output, HasSubstr(absl::StrCat("uids {", kUser, "}")));
  auto err = run({tool, "--check-config", bad}, kdc_->env());
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->exit_code, 2);
  EXPECT_THAT(err->output, HasSubstr("bad.toml:5:1: unknown key \"uid\""));
}

TEST_F(DaemonServerTest, HelpVersionAndUsageErrorsFollowGnuConventions) {
  auto tool = GSSGATED_PATH_FOR_TESTS;
  auto help = run({tool, "--help"}, kdc_->env());
  ASSERT_TRUE(help.ok());
  EXPECT_EQ(help->exit_code, 0) << help->output;
  EXPECT_THAT(help->output, HasSubstr("--check-config FILE"));
  EXPECT_THAT(help->output, HasSubstr("Exit status:"));
  auto version = run({tool, "--version"}, kdc_->env());
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->exit_code, 0) << version->output;
  EXPECT_THAT(version->output, StartsWith("gssgated "));
  auto bad = run({tool, "--frobnicate"}, kdc_->env());
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->exit_code, 2) << bad->output;
  // One error line naming the option, then the usage; the error is not repeated.
  EXPECT_THAT(bad->output, StartsWith("gssgated: unknown or incomplete option --frobnicate\nusage:"));
  EXPECT_EQ(bad->output.find("--frobnicate", bad->output.find('\n')), std::string::npos);
}

}  // namespace
}  // namespace gssgate::testing
