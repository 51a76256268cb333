// The wire transport (docs/wire.md) against a real gssgated: raw Frames on its SOCK_SEQPACKET
// socket for what a hostile or broken peer can send (garbage, oversize datagrams, unknown methods,
// interleaved fragments, messages past max_message_bytes), the identity and handle binding it
// shares with gRPC, and libgssgate's choice of transport. The libgssgate suites themselves run
// over this transport too (tests/CMakeLists.txt, "wire." tests).

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grp.h>

#include <cstring>
#include <functional>
#include <thread>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gssgate/gssgate.h"
#include "gssgate/v1/gssgate.grpc.pb.h"
#include "gssgate/v1/wire.pb.h"
#include "gtest/gtest.h"
#include "lib/util/protocol.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::HasSubstr;

constexpr uid_t kUser = 60021;     // rule "user": accept
constexpr uid_t kNoRule = 60022;   // no rule
constexpr gid_t kGroup = 60000;

// The wire method numbers of the calls used here: 1 + the index in service Gssgate.
uint32_t method_number(const std::string& name) {
  const auto* service = v1::ImportNameRequest::descriptor()->file()->FindServiceByName("Gssgate");
  return static_cast<uint32_t>(service->FindMethodByName(name)->index() + 1);
}

// A raw connection to the wire socket.
class RawWire {
 public:
  explicit RawWire(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval five{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof(five));
    const int sndbuf = 1 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  }
  ~RawWire() { close(fd_); }
  bool connected() const { return connected_; }

  bool send_raw(const std::string& datagram) {
    return send(fd_, datagram.data(), datagram.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(datagram.size());
  }
  bool send_frame(const v1::Frame& frame) { return send_raw(frame.SerializeAsString()); }
  // One request, unfragmented.
  bool request(const std::string& method, const google::protobuf::Message& message,
               uint64_t call_id, const v1::Releases* release = nullptr) {
    v1::Frame frame;
    frame.set_method(method_number(method));
    frame.set_call_id(call_id);
    frame.set_payload(message.SerializeAsString());
    if (release != nullptr) *frame.mutable_release() = *release;
    return send_frame(frame);
  }
  // The next reply, its fragments (continued frames) joined into one; nullopt on EOF, garbage,
  // or after 5 s.
  std::optional<v1::Frame> receive() {
    std::optional<v1::Frame> whole;
    std::vector<char> buffer(kWireMaxDatagram);
    for (;;) {
      const ssize_t n = recv(fd_, buffer.data(), buffer.size(), 0);
      if (n <= 0) return std::nullopt;
      v1::Frame frame;
      if (!frame.ParseFromArray(buffer.data(), static_cast<int>(n))) return std::nullopt;
      if (!whole.has_value()) {
        whole = std::move(frame);
      } else {
        if (frame.call_id() != whole->call_id()) return std::nullopt;
        whole->mutable_payload()->append(frame.payload());
        whole->set_continued(frame.continued());
      }
      if (!whole->continued()) return whole;
      ++fragments_received_;
    }
  }
  // How many continued (non-final) fragments receive() has joined so far.
  int fragments_received() const { return fragments_received_; }
  // True when the daemon closed the connection (EOF), not merely silent.
  bool closed_by_daemon() {
    char byte;
    return recv(fd_, &byte, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  int fragments_received_ = 0;
};

class WireTest : public RealmTest {
 protected:
  void SetUp() override {
    RealmTest::SetUp();
    if (HasFatalFailure()) return;
    auto d = GssgatedProcess::start(
        *kdc_,
        absl::StrCat("[[rule]]\nname = \"user\"\nuids = [", kUser,
                     "]\nusages = [\"accept\"]\nkeytab = \"", service_keytab_, "\"\n\n",
                     "[[rule]]\nname = \"root\"\nuids = [0]\nusages = [\"initiate\", "
                     "\"accept\"]\nkeytab = \"",
                     service_keytab_, "\"\nclient_keytab = \"", client_keytab_,
                     "\"\nadmin = true\n"),
        "max_message_bytes = 300000\n");
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
  }
  void TearDown() override {
    if (daemon_ && daemon_->pid() > 0) {
      absl::Status s = daemon_->stop_cleanly();
      EXPECT_TRUE(s.ok()) << s;
    }
  }
  // The daemon still answers a well-formed call on a fresh connection.
  void expect_serving() {
    RawWire wire(daemon_->wire_socket());
    ASSERT_TRUE(wire.connected());
    v1::WhoAmIRequest request;
    ASSERT_TRUE(wire.request("WhoAmI", request, 7));
    std::optional<v1::Frame> reply = wire.receive();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->code(), 0u) << reply->message();
    v1::WhoAmIReply who;
    ASSERT_TRUE(who.ParseFromString(reply->payload()));
    EXPECT_EQ(who.uid(), getuid());
  }

  std::unique_ptr<GssgatedProcess> daemon_;
};

TEST_F(WireTest, ACallOverTheWireSocketRunsTheSameHandlersAndNamesTheCaller) {
  RawWire wire(daemon_->wire_socket());
  ASSERT_TRUE(wire.connected());
  v1::ImportNameRequest import;
  import.mutable_name()->set_value("HTTP@localhost");
  ASSERT_TRUE(wire.request("ImportName", import, 41));
  std::optional<v1::Frame> reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->call_id(), 41u);
  EXPECT_EQ(reply->method(), method_number("ImportName"));
  EXPECT_EQ(reply->code(), 0u) << reply->message();
  v1::ImportNameReply name;
  ASSERT_TRUE(name.ParseFromString(reply->payload()));
  EXPECT_EQ(name.status().major(), 0u);
  expect_serving();
}

TEST_F(WireTest, GarbageIsRefusedAndClosedAndTheDaemonServesOthers) {
  {
    RawWire wire(daemon_->wire_socket());
    ASSERT_TRUE(wire.connected());
    ASSERT_TRUE(wire.send_raw(std::string("\xff\xff\xff\xff garbage, not a Frame", 26)));
    std::optional<v1::Frame> reply = wire.receive();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->call_id(), 0u);
    EXPECT_EQ(reply->code(), static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(reply->message(), HasSubstr("not a gssgate.v1.Frame"));
    EXPECT_TRUE(wire.closed_by_daemon());
  }
  {
    // A gRPC client (HTTP/2 preface) on the wrong socket gets the same.
    RawWire wire(daemon_->wire_socket());
    ASSERT_TRUE(wire.send_raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    std::optional<v1::Frame> reply = wire.receive();
    ASSERT_TRUE(reply.has_value());
    EXPECT_THAT(reply->message(), HasSubstr("gRPC callers use"));
    EXPECT_TRUE(wire.closed_by_daemon());
  }
  expect_serving();
}

TEST_F(WireTest, AnOversizeDatagramIsRefusedAndClosed) {
  RawWire wire(daemon_->wire_socket());
  ASSERT_TRUE(wire.connected());
  ASSERT_TRUE(wire.send_raw(std::string(kWireMaxDatagram + 1, 'x')));
  std::optional<v1::Frame> reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->code(), static_cast<uint32_t>(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(reply->message(), HasSubstr("fragments"));
  EXPECT_TRUE(wire.closed_by_daemon());
  expect_serving();
}

TEST_F(WireTest, UnknownMethodsAndUndecodableRequestsAreErrorsAndTheConnectionLives) {
  RawWire wire(daemon_->wire_socket());
  ASSERT_TRUE(wire.connected());
  v1::Frame unknown;
  unknown.set_method(999);
  unknown.set_call_id(5);
  ASSERT_TRUE(wire.send_frame(unknown));
  std::optional<v1::Frame> reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->call_id(), 5u);
  EXPECT_EQ(reply->code(), static_cast<uint32_t>(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(reply->message(), HasSubstr("method 999 is unknown"));

  v1::Frame bad_payload;
  bad_payload.set_method(method_number("ImportName"));
  bad_payload.set_call_id(6);
  bad_payload.set_payload("\xff\xff\xff");
  ASSERT_TRUE(wire.send_frame(bad_payload));
  reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->call_id(), 6u);
  EXPECT_EQ(reply->code(), static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reply->message(), HasSubstr("gssgate.v1.ImportNameRequest"));

  // The same connection still serves.
  ASSERT_TRUE(wire.request("WhoAmI", v1::WhoAmIRequest(), 8));
  reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->call_id(), 8u);
  EXPECT_EQ(reply->code(), 0u);
}

TEST_F(WireTest, FragmentsAssembleAndAMessagePastTheLimitIsRefusedWithItsCallId) {
  RawWire wire(daemon_->wire_socket());
  ASSERT_TRUE(wire.connected());
  // A name of 140,000 bytes in three fragments: under max_message_bytes (300,000), as is the
  // reply, which holds it twice (value and display).
  v1::ImportNameRequest big;
  big.mutable_name()->set_value(std::string(140'000, 'a'));
  const std::string payload = big.SerializeAsString();
  auto send_fragments = [&](uint64_t call_id, const std::string& bytes) {
    for (size_t offset = 0; offset < bytes.size(); offset += 50'000) {
      v1::Frame frame;
      frame.set_method(method_number("ImportName"));
      frame.set_call_id(call_id);
      frame.set_payload(bytes.substr(offset, 50'000));
      frame.set_continued(offset + 50'000 < bytes.size());
      ASSERT_TRUE(wire.send_frame(frame));
    }
  };
  send_fragments(11, payload);
  std::optional<v1::Frame> reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->call_id(), 11u);
  EXPECT_EQ(reply->code(), 0u) << reply->message();
  // The reply holds the name twice (280,000 bytes): it came back in fragments too, and whole.
  EXPECT_GE(wire.fragments_received(), 2);
  v1::ImportNameReply imported;
  ASSERT_TRUE(imported.ParseFromString(reply->payload()));
  EXPECT_EQ(imported.name().display().size(), 140'000u);

  // 400,000 bytes: past the limit; refused once its last fragment is in, and nothing else lost.
  v1::ImportNameRequest too_big = big;
  too_big.mutable_name()->set_value(std::string(400'000, 'a'));
  send_fragments(12, too_big.SerializeAsString());
  reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->call_id(), 12u);
  EXPECT_EQ(reply->code(), static_cast<uint32_t>(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(reply->message(), HasSubstr("max_message_bytes (300000 bytes)"));
  ASSERT_TRUE(wire.request("WhoAmI", v1::WhoAmIRequest(), 13));
  reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->call_id(), 13u);
  EXPECT_EQ(reply->code(), 0u);

  // A new call between the fragments of another is a broken peer: refused and closed.
  v1::Frame first;
  first.set_method(method_number("ImportName"));
  first.set_call_id(14);
  first.set_payload(payload.substr(0, 100));
  first.set_continued(true);
  ASSERT_TRUE(wire.send_frame(first));
  ASSERT_TRUE(wire.request("WhoAmI", v1::WhoAmIRequest(), 15));
  reply = wire.receive();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->code(), static_cast<uint32_t>(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reply->message(), HasSubstr("fragments of call 14"));
  EXPECT_TRUE(wire.closed_by_daemon());
  expect_serving();
}

TEST_F(WireTest, TheCallerIsTheKernelsPeerAndPolicyAppliesAsOnGrpc) {
  // A uid with a rule sees itself; a uid without one is refused, on a connection of its own.
  const std::string path = daemon_->wire_socket();
  v1::Frame frame;
  frame.set_method(method_number("WhoAmI"));
  frame.set_call_id(1);
  const std::string datagram = frame.SerializeAsString();
  auto call_as = [&](uid_t uid) {
    return run_in_child_as(uid, kGroup, [&] {
      RawWire wire(path);
      if (!wire.connected() || !wire.send_raw(datagram)) return 1;
      std::optional<v1::Frame> reply = wire.receive();
      if (!reply) return 2;
      if (reply->code() == static_cast<uint32_t>(absl::StatusCode::kPermissionDenied)) return 3;
      v1::WhoAmIReply me;
      if (reply->code() != 0 || !me.ParseFromString(reply->payload())) return 4;
      return me.uid() == uid && me.rule() == "user" ? 0 : 5;
    });
  };
  EXPECT_EQ(call_as(kUser), 0);
  EXPECT_EQ(call_as(kNoRule), 3);
  EXPECT_TRUE(daemon_->wait_for_log(absl::StrCat("uid=", kNoRule)));
}

TEST_F(WireTest, HandlesAreBoundToTheWireConnectionAndGoWithIt) {
  // Credentials acquired over the wire are unknown to the same uid's gRPC connection, released
  // by a release the next wire call carries, and a connection's leftovers go when it closes.
  auto grpc_channel =
      grpc::CreateChannel("unix:" + daemon_->socket(), grpc::InsecureChannelCredentials());
  auto stub = v1::Gssgate::NewStub(grpc_channel);
  auto acquire = [&](RawWire& wire, uint64_t call_id) {
    v1::AcquireCredsRequest request;
    request.set_usage(v1::CRED_USAGE_ACCEPT);
    EXPECT_TRUE(wire.request("AcquireCreds", request, call_id));
    std::optional<v1::Frame> reply = wire.receive();
    v1::AcquireCredsReply creds;
    EXPECT_TRUE(reply.has_value() && reply->code() == 0 &&
                creds.ParseFromString(reply->payload()));
    return creds.creds();
  };
  auto live_creds = [&] {
    grpc::ClientContext ctx;
    v1::ListHandlesRequest request;
    request.set_all(true);
    v1::ListHandlesReply reply;
    EXPECT_TRUE(stub->ListHandles(&ctx, request, &reply).ok());
    return reply.handles_size();
  };
  {
    RawWire wire(daemon_->wire_socket());
    ASSERT_TRUE(wire.connected());
    const std::string first = acquire(wire, 1);
    ASSERT_FALSE(first.empty());
    const std::string second = acquire(wire, 2);
    EXPECT_EQ(live_creds(), 2);

    grpc::ClientContext ctx;
    v1::InquireCredRequest inquire;
    inquire.set_creds(first);
    v1::InquireCredReply inquired;
    EXPECT_EQ(stub->InquireCred(&ctx, inquire, &inquired).error_code(),
              grpc::StatusCode::NOT_FOUND);

    v1::Releases release;
    release.add_creds(first);
    ASSERT_TRUE(wire.request("WhoAmI", v1::WhoAmIRequest(), 3, &release));
    std::optional<v1::Frame> reply = wire.receive();
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(reply->released());
    EXPECT_EQ(live_creds(), 1);
  }
  // The connection closed with `second` still held.
  for (int i = 0; i < 50 && live_creds() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(live_creds(), 0);
}

TEST_F(WireTest, LibgssgateChoosesTheTransportFromTheSocket) {
  const std::string wire_path = daemon_->wire_socket();
  // By the socket's type, by the "wire:" and "unix:" prefixes, and by ConnectionOptions.
  EXPECT_EQ(Connection({.socket = wire_path}).transport(), Transport::kWire);
  EXPECT_EQ(Connection({.socket = daemon_->socket()}).transport(), Transport::kGrpc);
  EXPECT_EQ(Connection({.socket = "wire:" + wire_path}).transport(), Transport::kWire);
  EXPECT_EQ(Connection({.socket = "unix:" + daemon_->socket()}).transport(), Transport::kGrpc);
  EXPECT_EQ(Connection({.socket = daemon_->socket(), .transport = Transport::kWire}).transport(),
            Transport::kWire);
  // A ".wire" path whose daemon is not up yet is taken as a wire socket.
  EXPECT_EQ(Connection({.socket = kdc_->path("later.wire")}).transport(), Transport::kWire);
  // GSSGATE_SOCKET names either socket.
  setenv("GSSGATE_SOCKET", wire_path.c_str(), 1);
  EXPECT_EQ(Connection().transport(), Transport::kWire);
  unsetenv("GSSGATE_SOCKET");

  // A message past a datagram (fragmented both ways) wraps and unwraps over the wire.
  auto conn = std::make_shared<Connection>(ConnectionOptions{.socket = wire_path});
  SecurityContext client({.name = Name("HTTP@localhost", NameType::hostbased_service(), conn),
                          .connection = conn});
  SecurityContext server({.connection = conn});
  std::optional<std::string> token = client.step();
  while (token && !(client.complete() && server.complete())) {
    token = server.step(*token);
    if (token && !client.complete()) token = client.step(*token);
  }
  ASSERT_TRUE(client.complete() && server.complete());
  const std::string big(250'000, 'z');
  EXPECT_EQ(server.decrypt(client.encrypt(big)), big);
  EXPECT_GT(conn->calls(), 3u);
  // A wire call against a stream socket fails cleanly.
  try {
    whoami(std::make_shared<Connection>(
        ConnectionOptions{.socket = daemon_->socket(), .transport = Transport::kWire}));
    FAIL() << "a stream socket does not take a wire connection";
  } catch (const ConnectionError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot connect to the wire socket"));
  }
}

// Many connections at once, each a thread of its own, so the daemon's workers (epoll, grown on
// demand) run calls side by side; in the ThreadSanitizer set. Every connection's handshakes and
// messages come out right and its handles stay its own.
TEST_F(WireTest, ConcurrentConnectionsAreServedSideBySideAndStaySeparate) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  std::vector<std::thread> threads;
  std::vector<int> good(kThreads, 0);
  std::vector<std::string> failures(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        auto conn = std::make_shared<Connection>(
            ConnectionOptions{.socket = "wire:" + daemon_->wire_socket()});
        for (int i = 0; i < kRounds; ++i) {
          SecurityContext client(
              {.name = Name("HTTP@localhost", NameType::hostbased_service(), conn),
               .connection = conn});
          SecurityContext server({.connection = conn});
          std::optional<std::string> token = client.step();
          while (token && !(client.complete() && server.complete())) {
            token = server.step(*token);
            if (token && !client.complete()) token = client.step(*token);
          }
          const std::string message = "thread " + std::to_string(t) + " round " +
                                      std::to_string(i);
          if (client.complete() && server.decrypt(client.encrypt(message)) == message) ++good[t];
        }
      } catch (const std::exception& e) {
        failures[t] = e.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(good[t], kRounds) << "thread " << t << ": " << failures[t];
  }
}

}  // namespace
}  // namespace gssgate::testing
