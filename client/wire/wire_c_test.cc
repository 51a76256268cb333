// The C client of the wire transport (client/wire/gssgate_wire.h) against a real gssgated on a
// real MIT realm: a whole mutual-auth handshake and wrap/unwrap through it, fragments both ways,
// releases riding on the next call, a fork's fresh connection, the explicit-zero flags, threads
// sharing a connection, every error a caller can meet, and the gssgate-wire-call command.

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grp.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gssgate/v1/gssgate.pb-c.h"
#include "gssgate/v1/gssgate.pb.h"
#include "gssgate_wire.h"
#include "gtest/gtest.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/fixtures/subprocess.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uid_t kUser = 60031;    // rule "user": accept only
constexpr uid_t kNoRule = 60032;  // no rule
constexpr gid_t kGroup = 60000;
constexpr uint32_t kMutual = 2;   // GSS_C_MUTUAL_FLAG
// DER contents of GSS_C_NT_HOSTBASED_SERVICE, 1.2.840.113554.1.2.1.4.
const std::string kHostbased("\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04", 10);

struct CloseWire {
  void operator()(gssgate_wire* conn) const { gssgate_wire_close(conn); }
};
using Wire = std::unique_ptr<gssgate_wire, CloseWire>;

struct FreeReply {
  void operator()(void* reply) const {
    protobuf_c_message_free_unpacked(static_cast<ProtobufCMessage*>(reply), nullptr);
  }
};
template <typename T>
using Owned = std::unique_ptr<T, FreeReply>;

ProtobufCBinaryData bytes(const std::string& s) {
  return {s.size(), reinterpret_cast<uint8_t*>(const_cast<char*>(s.data()))};
}
std::string str(const ProtobufCBinaryData& b) {
  return std::string(reinterpret_cast<const char*>(b.data), b.len);
}

// One call; the reply (null on failure) and the status.
template <typename Reply, typename Request>
Owned<Reply> call(gssgate_wire* conn, const char* method, const Request& request,
                  gssgate_wire_status* status) {
  ProtobufCMessage* reply = nullptr;
  gssgate_wire_call(conn, method, &request.base, &reply, status);
  return Owned<Reply>(reinterpret_cast<Reply*>(reply));
}

Owned<Gssgate__V1__WrapReply> wrap(gssgate_wire* conn, const std::string& context,
                                   const std::string& message, gssgate_wire_status* status) {
  Gssgate__V1__WrapRequest request = GSSGATE__V1__WRAP_REQUEST__INIT;
  request.context = bytes(context);
  request.message = bytes(message);
  request.encrypt = 1;
  return call<Gssgate__V1__WrapReply>(conn, "Wrap", request, status);
}

Owned<Gssgate__V1__UnwrapReply> unwrap(gssgate_wire* conn, const std::string& context,
                                       const std::string& token, gssgate_wire_status* status) {
  Gssgate__V1__UnwrapRequest request = GSSGATE__V1__UNWRAP_REQUEST__INIT;
  request.context = bytes(context);
  request.token = bytes(token);
  return call<Gssgate__V1__UnwrapReply>(conn, "Unwrap", request, status);
}

Owned<Gssgate__V1__ContextTimeReply> context_time(gssgate_wire* conn, const std::string& context,
                                                  gssgate_wire_status* status) {
  Gssgate__V1__ContextTimeRequest request = GSSGATE__V1__CONTEXT_TIME_REQUEST__INIT;
  request.context = bytes(context);
  return call<Gssgate__V1__ContextTimeReply>(conn, "ContextTime", request, status);
}

// A completed handshake made with the C client only: both contexts live in the daemon.
struct CHandshake {
  std::string initiator;
  std::string acceptor;
  uint32_t init_flags = 0;
  std::string initiator_name;  // as the acceptor saw it
  std::string target_name;     // as the initiator's completing step named it
  int init_calls = 0;
};

// Initiates to HTTP@localhost (flags: unset for the daemon's default, or explicit), accepts on
// the same connection and finishes the initiator when mutual auth asks for it.
void handshake(gssgate_wire* conn, std::optional<uint32_t> flags, CHandshake* out) {
  gssgate_wire_status status;
  Gssgate__V1__Name target = GSSGATE__V1__NAME__INIT;
  const std::string service = "HTTP@localhost";
  target.value = bytes(service);
  target.name_type = bytes(kHostbased);
  Gssgate__V1__InitSecContextRequest init = GSSGATE__V1__INIT_SEC_CONTEXT_REQUEST__INIT;
  init.target = &target;
  if (flags.has_value()) gssgate_wire_set_init_flags(&init.base, *flags);
  auto first = call<Gssgate__V1__InitSecContextReply>(conn, "InitSecContext", init, &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  ASSERT_NE(first->status, nullptr);
  ASSERT_EQ(first->status->major & 0xffff0000u, 0u)
      << (first->status->n_major_text > 0 ? first->status->major_text[0] : "");
  out->init_calls = 1;
  out->initiator = str(first->context);

  Gssgate__V1__AcceptSecContextRequest accept = GSSGATE__V1__ACCEPT_SEC_CONTEXT_REQUEST__INIT;
  accept.input_token = first->output_token;
  auto accepted =
      call<Gssgate__V1__AcceptSecContextReply>(conn, "AcceptSecContext", accept, &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  ASSERT_EQ(accepted->status->major, 0u);
  ASSERT_FALSE(accepted->continue_needed);
  out->acceptor = str(accepted->context);
  ASSERT_NE(accepted->initiator_name, nullptr);
  out->initiator_name = str(accepted->initiator_name->display);

  Owned<Gssgate__V1__InitSecContextReply> last = std::move(first);
  if (last->continue_needed) {
    Gssgate__V1__InitSecContextRequest more = GSSGATE__V1__INIT_SEC_CONTEXT_REQUEST__INIT;
    more.target = &target;  // every step names it, as gss_init_sec_context's callers do
    more.context = bytes(out->initiator);
    more.input_token = accepted->output_token;
    last = call<Gssgate__V1__InitSecContextReply>(conn, "InitSecContext", more, &status);
    ASSERT_EQ(status.code, 0u) << status.message;
    ASSERT_EQ(last->status->major, 0u);
    ASSERT_FALSE(last->continue_needed);
    out->init_calls = 2;
  }
  out->init_flags = last->flags;
  if (last->target_name != nullptr) out->target_name = str(last->target_name->display);
}

uint32_t live_handles(gssgate_wire* conn) {
  gssgate_wire_status status;
  Gssgate__V1__WhoAmIRequest request = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
  auto who = call<Gssgate__V1__WhoAmIReply>(conn, "WhoAmI", request, &status);
  EXPECT_EQ(status.code, 0u) << status.message;
  return who == nullptr ? ~0u : who->live_handles;
}

class WireCTest : public RealmTest {
 protected:
  void SetUp() override {
    RealmTest::SetUp();
    if (HasFatalFailure()) return;
    auto d = GssgatedProcess::start(*kdc_, rules(), "max_message_bytes = 1000000\n");
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
  }
  void TearDown() override {
    if (daemon_ && daemon_->pid() > 0) {
      absl::Status s = daemon_->stop_cleanly();
      EXPECT_TRUE(s.ok()) << s;
    }
  }
  std::string rules(bool root_is_admin = false) const {
    return absl::StrCat("[[rule]]\nname = \"user\"\nuids = [", kUser,
                        "]\nusages = [\"accept\"]\nkeytab = \"", service_keytab_, "\"\n\n",
                        "[[rule]]\nname = \"root\"\nuids = [0]\nusages = [\"initiate\", "
                        "\"accept\"]\nkeytab = \"",
                        service_keytab_, "\"\nclient_keytab = \"", client_keytab_, "\"\n",
                        root_is_admin ? "admin = true\n" : "");
  }
  void restart_daemon(const std::string& rules, const std::string& settings) {
    ASSERT_TRUE(daemon_->stop_cleanly().ok());
    auto d = GssgatedProcess::start(*kdc_, rules, settings);
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
  }
  Wire connect() {
    gssgate_wire_status status;
    Wire conn(gssgate_wire_connect(daemon_->wire_socket().c_str(), &status));
    EXPECT_NE(conn, nullptr) << status.message;
    return conn;
  }

  std::unique_ptr<GssgatedProcess> daemon_;
};

TEST_F(WireCTest, AMutualHandshakeAndWrapRunThroughTheCClientAlone) {
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  CHandshake hs;
  handshake(conn.get(), std::nullopt, &hs);
  if (HasFatalFailure()) return;
  EXPECT_EQ(hs.init_calls, 2);  // mutual auth: init, accept, init
  EXPECT_NE(hs.init_flags & kMutual, 0u);
  EXPECT_EQ(hs.initiator_name, alice());
  EXPECT_EQ(hs.target_name, service_principal());

  gssgate_wire_status status;
  const std::string message = "sealed by the initiator, opened by the acceptor";
  auto wrapped = wrap(conn.get(), hs.initiator, message, &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  ASSERT_EQ(wrapped->status->major, 0u);
  EXPECT_TRUE(wrapped->encrypted);
  EXPECT_EQ(str(wrapped->token).find(message), std::string::npos);

  auto unwrapped = unwrap(conn.get(), hs.acceptor, str(wrapped->token), &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  ASSERT_EQ(unwrapped->status->major, 0u);
  EXPECT_EQ(str(unwrapped->message), message);
  EXPECT_TRUE(unwrapped->encrypted);

  // A token the acceptor never made is the GSSAPI failure it is, in the reply's status.
  auto refused = unwrap(conn.get(), hs.acceptor, std::string(64, 'g'), &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  EXPECT_NE(refused->status->major, 0u);
  EXPECT_EQ(refused->message.len, 0u);
}

TEST_F(WireCTest, MessagesLongerThanADatagramTravelInFragmentsBothWays) {
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  CHandshake hs;
  handshake(conn.get(), std::nullopt, &hs);
  if (HasFatalFailure()) return;
  // 400,000 bytes: four request fragments, and a reply of four.
  std::string message(400'000, '\0');
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>(i * 7 + i / 251);
  gssgate_wire_status status;
  auto wrapped = wrap(conn.get(), hs.initiator, message, &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  ASSERT_EQ(wrapped->status->major, 0u);
  EXPECT_GT(wrapped->token.len, message.size());
  auto unwrapped = unwrap(conn.get(), hs.acceptor, str(wrapped->token), &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  EXPECT_TRUE(str(unwrapped->message) == message);

  // Past the daemon's max_message_bytes (1,000,000): refused with its reason, and the
  // connection goes on serving.
  auto refused = wrap(conn.get(), hs.initiator, std::string(1'100'000, 'x'), &status);
  EXPECT_EQ(refused, nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_RESOURCE_EXHAUSTED));
  EXPECT_THAT(status.message, HasSubstr("max_message_bytes"));
  EXPECT_EQ(live_handles(conn.get()), 2u);
}

TEST_F(WireCTest, ReleasesRideOnTheNextCallAndForeignOnesAreSkipped) {
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  CHandshake hs;
  handshake(conn.get(), std::nullopt, &hs);
  if (HasFatalFailure()) return;
  gssgate_wire_status status;
  Gssgate__V1__AcquireCredsRequest acquire = GSSGATE__V1__ACQUIRE_CREDS_REQUEST__INIT;
  acquire.usage = GSSGATE__V1__CRED_USAGE__CRED_USAGE_INITIATE;
  auto cred = call<Gssgate__V1__AcquireCredsReply>(conn.get(), "AcquireCreds", acquire, &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  ASSERT_EQ(cred->status->major, 0u);
  EXPECT_EQ(live_handles(conn.get()), 3u);

  // Queued, not sent: the daemon still holds them until the connection's next call.
  const std::string cred_handle = str(cred->creds);
  ASSERT_EQ(gssgate_wire_release_cred(conn.get(), cred->creds.data, cred->creds.len), 0u);
  ASSERT_EQ(gssgate_wire_release_context(
                conn.get(), reinterpret_cast<const uint8_t*>(hs.initiator.data()),
                hs.initiator.size()),
            0u);
  // Handles that are no one's, or of the wrong kind, go with them and change nothing.
  const std::string unknown(16, '\x5a');
  gssgate_wire_release_context(conn.get(), reinterpret_cast<const uint8_t*>(unknown.data()),
                               unknown.size());
  gssgate_wire_release_cred(conn.get(), reinterpret_cast<const uint8_t*>(hs.acceptor.data()),
                            hs.acceptor.size());
  EXPECT_EQ(gssgate_wire_pending_releases(conn.get()), 4u);
  // The next call carries them (WhoAmI counts after releasing).
  EXPECT_EQ(live_handles(conn.get()), 1u);
  EXPECT_EQ(gssgate_wire_pending_releases(conn.get()), 0u);

  // The released credential is gone for good; the acceptor, whose handle was named as a
  // credential, is not.
  Gssgate__V1__InquireCredRequest inquire = GSSGATE__V1__INQUIRE_CRED_REQUEST__INIT;
  inquire.creds = bytes(cred_handle);
  auto gone = call<Gssgate__V1__InquireCredReply>(conn.get(), "InquireCred", inquire, &status);
  EXPECT_EQ(gone, nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_NOT_FOUND));
  EXPECT_THAT(status.message, HasSubstr("no such credential handle"));
  auto alive = context_time(conn.get(), hs.acceptor, &status);
  ASSERT_EQ(status.code, 0u) << status.message;
  EXPECT_GT(alive->lifetime, 0u);

  // More than one call may carry (128): the rest wait for the call after.
  for (int i = 0; i < 130; ++i) {
    gssgate_wire_release_context(conn.get(), reinterpret_cast<const uint8_t*>(unknown.data()),
                                 unknown.size());
  }
  EXPECT_EQ(live_handles(conn.get()), 1u);
  EXPECT_EQ(gssgate_wire_pending_releases(conn.get()), 2u);
  EXPECT_EQ(live_handles(conn.get()), 1u);
  EXPECT_EQ(gssgate_wire_pending_releases(conn.get()), 0u);
}

TEST_F(WireCTest, AnExplicitZeroFlagsRequestTravelsAsZeroNotAsTheDefault) {
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  CHandshake defaults;
  handshake(conn.get(), std::nullopt, &defaults);
  if (HasFatalFailure()) return;
  EXPECT_NE(defaults.init_flags & kMutual, 0u);
  EXPECT_EQ(defaults.init_calls, 2);

  // flags = 0: no mutual authentication, so the initiator is complete after one step.
  CHandshake zero;
  handshake(conn.get(), 0u, &zero);
  if (HasFatalFailure()) return;
  EXPECT_EQ(zero.init_flags & kMutual, 0u);
  EXPECT_EQ(zero.init_calls, 1);

  CHandshake mutual_only;
  handshake(conn.get(), kMutual, &mutual_only);
  if (HasFatalFailure()) return;
  EXPECT_NE(mutual_only.init_flags & kMutual, 0u);
  EXPECT_EQ(mutual_only.init_calls, 2);
}

TEST_F(WireCTest, AForkedChildConnectsAfreshAndCannotUseItsParentsHandles) {
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  CHandshake hs;
  handshake(conn.get(), std::nullopt, &hs);
  if (HasFatalFailure()) return;
  const uint64_t generation = gssgate_wire_generation(conn.get());
  EXPECT_EQ(generation, 1u);
  // A release queued before fork() is the parent's business, not the child's.
  gssgate_wire_release_context(conn.get(),
                               reinterpret_cast<const uint8_t*>(hs.initiator.data()),
                               hs.initiator.size());

  const pid_t pid = fork();
  if (pid == 0) {
    gssgate_wire_status status;
    auto reply = context_time(conn.get(), hs.acceptor, &status);
    int code = 0;
    if (reply != nullptr || status.code != GSSGATE_WIRE_NOT_FOUND) code |= 1;
    if (gssgate_wire_generation(conn.get()) != generation + 1) code |= 2;
    if (gssgate_wire_pending_releases(conn.get()) != 0) code |= 4;
    Gssgate__V1__WhoAmIRequest who_request = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
    auto who = call<Gssgate__V1__WhoAmIReply>(conn.get(), "WhoAmI", who_request, &status);
    // The daemon sees the child itself on this connection (live_handles counts the whole uid's,
    // the parent's included, so it says nothing here).
    if (who == nullptr || who->pid != getpid()) code |= 8;
    _exit(code);
  }
  int wait_status = 0;
  ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
  ASSERT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0)
      << "1: the parent's handle worked, 2: no new generation, 4: releases inherited, 8: the "
         "daemon did not see the child's pid";

  // The parent's connection is untouched: its handles work, its queued release goes out.
  EXPECT_EQ(gssgate_wire_generation(conn.get()), generation);
  EXPECT_EQ(live_handles(conn.get()), 1u);
  gssgate_wire_status status;
  auto alive = context_time(conn.get(), hs.acceptor, &status);
  EXPECT_EQ(status.code, 0u) << status.message;
}

TEST_F(WireCTest, ManyThreadsShareOneCConnectionAndEachGetsItsOwnReply) {
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  CHandshake hs;
  handshake(conn.get(), std::nullopt, &hs);
  if (HasFatalFailure()) return;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string message = absl::StrCat("thread ", t, " message ", i);
        gssgate_wire_status status;
        auto wrapped = wrap(conn.get(), hs.initiator, message, &status);
        if (wrapped == nullptr || wrapped->status->major != 0) {
          ++failures;
          continue;
        }
        // The acceptor's sequence window tolerates the order threads take turns in.
        Gssgate__V1__GetMicRequest mic = GSSGATE__V1__GET_MIC_REQUEST__INIT;
        mic.context = bytes(hs.acceptor);
        mic.message = bytes(message);
        auto got = call<Gssgate__V1__GetMicReply>(conn.get(), "GetMic", mic, &status);
        if (got == nullptr || got->status->major != 0 || got->mic.len == 0) ++failures;
        if (i % 10 == 0) {
          gssgate_wire_release_context(conn.get(),
                                       reinterpret_cast<const uint8_t*>("nobody's handle"), 15);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(live_handles(conn.get()), 2u);
  EXPECT_EQ(gssgate_wire_pending_releases(conn.get()), 0u);
}

TEST_F(WireCTest, EveryErrorSaysWhatFailedAndTheConnectionKeepsServing) {
  gssgate_wire_status status;
  // Nothing listening.
  EXPECT_EQ(gssgate_wire_connect(kdc_->path("no-such.wire").c_str(), &status), nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_UNAVAILABLE));
  EXPECT_THAT(status.message, HasSubstr("cannot connect to gssgated's wire socket"));
  EXPECT_THAT(status.message, HasSubstr("No such file or directory"));
  // The gRPC socket, by path and by scheme.
  EXPECT_EQ(gssgate_wire_connect(daemon_->socket().c_str(), &status), nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_INVALID_ARGUMENT));
  EXPECT_THAT(status.message, HasSubstr("is not gssgated's wire socket"));
  EXPECT_EQ(gssgate_wire_connect(("unix:" + daemon_->socket()).c_str(), &status), nullptr);
  EXPECT_THAT(status.message, HasSubstr("names gssgated's gRPC socket"));
  // The "wire:" scheme, and GSSGATE_SOCKET when no path is given.
  Wire by_scheme(gssgate_wire_connect(("wire:" + daemon_->wire_socket()).c_str(), &status));
  EXPECT_NE(by_scheme, nullptr) << status.message;
  setenv("GSSGATE_SOCKET", daemon_->wire_socket().c_str(), 1);
  Wire by_env(gssgate_wire_connect(nullptr, &status));
  unsetenv("GSSGATE_SOCKET");
  ASSERT_NE(by_env, nullptr) << status.message;

  // A method the service does not have, and a request of the wrong type: nothing is sent.
  Gssgate__V1__WhoAmIRequest who = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
  auto none = call<Gssgate__V1__WhoAmIReply>(by_env.get(), "WhoIsIt", who, &status);
  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_UNIMPLEMENTED));
  EXPECT_THAT(status.message, HasSubstr("no method \"WhoIsIt\""));
  auto wrong = call<Gssgate__V1__WrapReply>(by_env.get(), "Wrap", who, &status);
  EXPECT_EQ(wrong, nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_INVALID_ARGUMENT));
  EXPECT_THAT(status.message,
              HasSubstr("Wrap takes a gssgate.v1.WrapRequest, not a gssgate.v1.WhoAmIRequest"));
  // A method number the daemon does not know, sent raw: the daemon's own answer.
  uint8_t* raw = nullptr;
  size_t raw_len = 0;
  EXPECT_EQ(gssgate_wire_call_raw(by_env.get(), 999, nullptr, 0, &raw, &raw_len, &status),
            static_cast<uint32_t>(GSSGATE_WIRE_UNIMPLEMENTED));
  EXPECT_THAT(status.message, HasSubstr("method 999 is unknown"));
  EXPECT_EQ(raw, nullptr);
  // A handle this connection never had.
  auto gone = context_time(by_env.get(), std::string(16, '\x11'), &status);
  EXPECT_EQ(gone, nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_NOT_FOUND));
  // And the connection still serves.
  auto me = call<Gssgate__V1__WhoAmIReply>(by_env.get(), "WhoAmI", who, &status);
  ASSERT_NE(me, nullptr) << status.message;
  EXPECT_EQ(me->uid, getuid());
  EXPECT_STREQ(me->rule, "root");

  // A caller no rule matches is refused by policy; the accept-only rule's caller may not
  // initiate. Both in children with those uids.
  const std::string path = daemon_->wire_socket();
  EXPECT_EQ(run_in_child_as(kNoRule, kGroup,
                   [&] {
                     gssgate_wire_status s;
                     Wire c(gssgate_wire_connect(path.c_str(), &s));
                     if (c == nullptr) return 1;
                     Gssgate__V1__WhoAmIRequest r = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
                     auto reply = call<Gssgate__V1__WhoAmIReply>(c.get(), "WhoAmI", r, &s);
                     if (reply != nullptr || s.code != GSSGATE_WIRE_PERMISSION_DENIED) return 2;
                     return std::strstr(s.message, "no policy rule for uid") != nullptr ? 0 : 3;
                   }),
            0);
  EXPECT_EQ(run_in_child_as(kUser, kGroup,
                   [&] {
                     gssgate_wire_status s;
                     Wire c(gssgate_wire_connect(path.c_str(), &s));
                     if (c == nullptr) return 1;
                     Gssgate__V1__AcquireCredsRequest r =
                         GSSGATE__V1__ACQUIRE_CREDS_REQUEST__INIT;
                     r.usage = GSSGATE__V1__CRED_USAGE__CRED_USAGE_INITIATE;
                     auto reply = call<Gssgate__V1__AcquireCredsReply>(c.get(), "AcquireCreds", r,
                                                                       &s);
                     if (reply != nullptr || s.code != GSSGATE_WIRE_PERMISSION_DENIED) return 2;
                     return 0;
                   }),
            0);
}

TEST_F(WireCTest, ADaemonRestartBreaksTheConnectionAndTheNextCallConnectsAgain) {
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  CHandshake hs;
  handshake(conn.get(), std::nullopt, &hs);
  if (HasFatalFailure()) return;
  gssgate_wire_release_cred(conn.get(), reinterpret_cast<const uint8_t*>("x"), 1);
  ASSERT_TRUE(daemon_->stop_cleanly().ok());
  gssgate_wire_status status;
  Gssgate__V1__WhoAmIRequest who = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
  auto reply = call<Gssgate__V1__WhoAmIReply>(conn.get(), "WhoAmI", who, &status);
  EXPECT_EQ(reply, nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_UNAVAILABLE));
  EXPECT_THAT(status.message, ::testing::AnyOf(HasSubstr("the wire connection broke"),
                                               HasSubstr("cannot connect")));

  auto again = GssgatedProcess::start(*kdc_, rules(), "max_message_bytes = 1000000\n");
  ASSERT_TRUE(again.ok()) << again.status();
  daemon_ = std::move(*again);
  reply = call<Gssgate__V1__WhoAmIReply>(conn.get(), "WhoAmI", who, &status);
  ASSERT_NE(reply, nullptr) << status.message;
  EXPECT_EQ(reply->live_handles, 0u);
  EXPECT_EQ(gssgate_wire_generation(conn.get()), 2u);
  // The old connection's handles died with it; the holder can tell by the generation, and the
  // daemon says so if they are used anyway.
  auto gone = context_time(conn.get(), hs.initiator, &status);
  EXPECT_EQ(gone, nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_NOT_FOUND));
  EXPECT_EQ(gssgate_wire_pending_releases(conn.get()), 0u);
}

TEST_F(WireCTest, AConnectionTheDaemonClosedWhileIdleIsReplacedBeforeTheNextCall) {
  // A long-lived server (Apache through the interposer) meets this once per idle period: the
  // daemon hangs up on a connection idle past idle_connection_timeout, and the next call must
  // not fail for it.
  restart_daemon(rules(), "max_message_bytes = 1000000\nidle_connection_timeout = 10\n");
  if (HasFatalFailure()) return;
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(live_handles(conn.get()), 0u);
  ASSERT_TRUE(daemon_->wait_for_log("closed (idle_connection_timeout)", std::chrono::seconds(30)))
      << daemon_->log();
  gssgate_wire_status status;
  Gssgate__V1__WhoAmIRequest who = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
  auto reply = call<Gssgate__V1__WhoAmIReply>(conn.get(), "WhoAmI", who, &status);
  ASSERT_NE(reply, nullptr) << status.message;
  EXPECT_EQ(gssgate_wire_generation(conn.get()), 2u);
}

// gssgate_wire_set_timeout bounds a call: a daemon that stops answering (SIGSTOP) costs the
// caller its timeout and a clear DEADLINE_EXCEEDED, not a hang; once the daemon answers again the
// same connection serves, skipping the late reply of the call that timed out.
TEST_F(WireCTest, ACallPastItsTimeoutFailsAndTheLateReplyIsSkipped) {
  Wire conn = connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(live_handles(conn.get()), 0u);  // connected
  gssgate_wire_set_timeout(conn.get(), 500);
  Paused daemon(daemon_->pid());
  ASSERT_TRUE(daemon.ok()) << "gssgated did not stop";
  gssgate_wire_status status;
  Gssgate__V1__WhoAmIRequest who = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
  const auto started = std::chrono::steady_clock::now();
  auto late = call<Gssgate__V1__WhoAmIReply>(conn.get(), "WhoAmI", who, &status);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(late, nullptr);
  EXPECT_EQ(status.code, static_cast<uint32_t>(GSSGATE_WIRE_DEADLINE_EXCEEDED));
  EXPECT_THAT(status.message, HasSubstr("did not answer within the call's timeout"));
  EXPECT_GE(waited, std::chrono::milliseconds(500));
  daemon.resume();
  // The daemon now answers the old call; give its reply time to reach the socket, so that the
  // next call most likely reads past it (it skips it by call id in either order).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  gssgate_wire_set_timeout(conn.get(), 0);  // back to the default
  Gssgate__V1__IndicateMechsRequest mechs_request = GSSGATE__V1__INDICATE_MECHS_REQUEST__INIT;
  auto mechs =
      call<Gssgate__V1__IndicateMechsReply>(conn.get(), "IndicateMechs", mechs_request, &status);
  ASSERT_NE(mechs, nullptr) << status.message;
  EXPECT_GT(mechs->n_mechs, 0u);
  EXPECT_EQ(gssgate_wire_generation(conn.get()), 1u) << "the connection was replaced, not kept";
}

// One uid may run a quarter of max_threads calls at once; the daemon refuses the rest before
// running them (not_run), and the C client makes them again with backoff until its timeout, as
// libgssgate does: a second connection's call waits behind a call that is stuck on a stopped KDC
// and succeeds once the KDC answers. The daemon's metrics show it was refused meanwhile.
// A daemon that takes no connections (stopped, or its backlog full) does not hold a connect
// forever: it gives up within the connection's timeout, saying why. (The interposer asks its
// policy question with 1 s, at the first GSSAPI call of programs that did not opt in.)
TEST(WireCConnectTest, AConnectToASocketThatTakesNoConnectionsGivesUpWithinItsTimeout) {
  char dir_template[] = "/tmp/gssgate-backlog-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() { rmdir(dir.c_str()); }
  } remove_dir{dir};
  const FullBacklogSocket full(dir + "/full.wire");  // gone before the directory
  ASSERT_TRUE(full.ok());

  gssgate_wire_status status;
  const auto started = std::chrono::steady_clock::now();
  gssgate_wire* conn = gssgate_wire_connect_within(full.path().c_str(), 300, &status);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(conn, nullptr);
  if (conn != nullptr) gssgate_wire_close(conn);
  EXPECT_EQ(status.code, GSSGATE_WIRE_UNAVAILABLE);
  EXPECT_THAT(status.message, HasSubstr("did not take the connection within 300 ms"));
  // It waited (the connect blocked) and gave up, rather than hanging.
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_LT(waited, std::chrono::seconds(20));
}

TEST_F(WireCTest, ACallRefusedForTheUidsShareOfThreadsIsMadeAgainUntilItRuns) {
  restart_daemon(rules(/*root_is_admin=*/true), "max_threads = 4\n");  // one call per uid
  if (HasFatalFailure()) return;
  Wire slow = connect(), waiting = connect();
  ASSERT_NE(slow, nullptr);
  ASSERT_NE(waiting, nullptr);
  gssgate_wire_set_timeout(slow.get(), 60'000);
  Paused kdc(kdc_->kdc_pid());
  ASSERT_TRUE(kdc.ok()) << "the KDC did not stop";
  // Initiating needs a TGT this new daemon does not have yet: the call waits on the KDC.
  gssgate_wire_status slow_status;
  std::thread stuck([&] {
    Gssgate__V1__Name target = GSSGATE__V1__NAME__INIT;
    const std::string service = "HTTP@localhost";
    target.value = bytes(service);
    target.name_type = bytes(kHostbased);
    Gssgate__V1__InitSecContextRequest init = GSSGATE__V1__INIT_SEC_CONTEXT_REQUEST__INIT;
    init.target = &target;
    call<Gssgate__V1__InitSecContextReply>(slow.get(), "InitSecContext", init, &slow_status);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  gssgate_wire_status status;
  std::thread queued([&] {
    Gssgate__V1__WhoAmIRequest who = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
    EXPECT_NE(call<Gssgate__V1__WhoAmIReply>(waiting.get(), "WhoAmI", who, &status), nullptr);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kdc.resume();
  stuck.join();
  queued.join();
  EXPECT_EQ(slow_status.code, 0u) << slow_status.message;
  EXPECT_EQ(status.code, 0u) << status.message;
  Gssgate__V1__GetMetricsRequest metrics_request = GSSGATE__V1__GET_METRICS_REQUEST__INIT;
  auto metrics =
      call<Gssgate__V1__GetMetricsReply>(waiting.get(), "GetMetrics", metrics_request, &status);
  ASSERT_NE(metrics, nullptr) << status.message;
  const std::string text = metrics->text;
  const std::string key = "gssgate_calls_total{rpc=\"WhoAmI\",outcome=\"exhausted\"} ";
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos) << "the WhoAmI call was never refused: the test proves nothing";
  EXPECT_GT(std::stoi(text.substr(at + key.size())), 0);
}

TEST_F(WireCTest, TheCMethodTableIsTheDaemonsServiceInOrder) {
  const auto* service = v1::ImportNameRequest::descriptor()->file()->FindServiceByName("Gssgate");
  ASSERT_NE(service, nullptr);
  ASSERT_EQ(gssgate__v1__gssgate__descriptor.n_methods,
            static_cast<unsigned>(service->method_count()));
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string name = service->method(i)->name();
    EXPECT_EQ(gssgate_wire_method_number(name.c_str()), static_cast<uint32_t>(i + 1)) << name;
    EXPECT_EQ(std::string(gssgate__v1__gssgate__descriptor.methods[i].input->name),
              service->method(i)->input_type()->full_name());
  }
  EXPECT_EQ(gssgate_wire_method_number("NoSuchMethod"), 0u);
  EXPECT_EQ(gssgate_wire_method_number(nullptr), 0u);
}

// Method numbers are append-only (docs/wire.md): a module or C client built before a new method
// and still loaded in a running program (httpd across a package upgrade) must reach the same
// methods. Every method that exists keeps its number; a new one goes after the last, here.
TEST_F(WireCTest, MethodNumbersNeverMove) {
  // clang-format off
  const std::vector<std::string> in_order = {
      "ImportName", "DisplayName", "CanonicalizeName", "ExportName", "CompareName",
      "InquireName", "GetNameAttribute", "SetNameAttribute", "DeleteNameAttribute",
      "AcquireCreds", "AcquireCredImpersonateName", "InquireCred", "InquireCredByMech",
      "ExportCred", "ImportCred", "AddCred", "StoreCred", "ReleaseCred", "InitSecContext",
      "AcceptSecContext", "Wrap", "Unwrap", "GetMic", "VerifyMic", "WrapSizeLimit",
      "ProcessContextToken", "InquireContext", "ContextTime", "ExportContext", "ImportContext",
      "DeleteSecContext", "IndicateMechs", "WhoAmI", "GetStatus", "ListHandles", "Reload",
      "GetMetrics", "AcceptOnce", "Iov", "InquireSecContextByOid", "InquireCredByOid",
      "SetCredOption"};
  // clang-format on
  ASSERT_EQ(gssgate__v1__gssgate__descriptor.n_methods, in_order.size())
      << "a method was added: append it to this list";
  for (size_t i = 0; i < in_order.size(); ++i) {
    EXPECT_EQ(gssgate_wire_method_number(in_order[i].c_str()), i + 1) << in_order[i];
  }
}

TEST_F(WireCTest, TheCommandAnswersAndItsExitCodesAreTheDocumentedOnes) {
  const std::string tool = GSSGATE_WIRE_CALL_FOR_TESTS;
  const std::string socket = daemon_->wire_socket();
  auto command = [&](const std::vector<std::string>& argv) {
    absl::StatusOr<RunResult> result = run(argv, {{"PATH", "/usr/bin:/bin"}});
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : RunResult{-1, ""};
  };
  RunResult who = command({tool, "--socket", socket, "whoami"});
  EXPECT_EQ(who.exit_code, 0) << who.output;
  EXPECT_THAT(who.output, HasSubstr("uid: 0\n"));
  EXPECT_THAT(who.output, HasSubstr("rule: root\n"));
  EXPECT_THAT(who.output, HasSubstr("grants: initiate accept"));
  RunResult mechs = command({tool, "--socket=" + socket, "mechs"});
  EXPECT_EQ(mechs.exit_code, 0) << mechs.output;
  EXPECT_THAT(mechs.output, HasSubstr("2a864886f712010202\n"));  // krb5
  RunResult help = command({tool, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, StartsWith("Usage: gssgate-wire-call"));
  EXPECT_THAT(help.output, HasSubstr("exit codes: 0 ok"));
  RunResult version = command({tool, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.output, StartsWith("gssgate-wire-call "));
  RunResult usage = command({tool, "--socket", socket, "dance"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(usage.output, "gssgate-wire-call: unknown command (--help shows the usage)\n");
  // Unreachable: one line, exit code 3; GSSGATE_SOCKET is read when --socket is not given.
  absl::StatusOr<RunResult> away =
      run({tool, "whoami"}, {{"GSSGATE_SOCKET", kdc_->path("absent.wire")}});
  ASSERT_TRUE(away.ok()) << away.status();
  EXPECT_EQ(away->exit_code, 3);
  EXPECT_THAT(away->output, StartsWith("gssgate-wire-call: cannot connect"));
  EXPECT_THAT(away->output, HasSubstr("absent.wire"));
  EXPECT_EQ(std::count(away->output.begin(), away->output.end(), '\n'), 1);
}

}  // namespace
}  // namespace gssgate::testing
