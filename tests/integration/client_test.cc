// libgssgate against a real gssgated and the real test KDC: the python-gssapi high-level API
// (Name, Credentials, SecurityContext, the exception family) and interoperability with plain
// in-process MIT GSSAPI in both directions. The test process (root) is the caller here; privilege
// separation between uids is proven in daemon_test.cc.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gssgate/gssgate.h"
#include "gssgate/v1/gssgate.grpc.pb.h"
#include "gtest/gtest.h"
#include "lib/gss/context.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ClientTest : public RealmTest {
 protected:
  void SetUp() override {
    RealmTest::SetUp();
    if (HasFatalFailure()) return;
    start_daemon("delegate = true\naccept_delegated = true\n");
  }
  // (Re)starts the daemon with the fixture's rule plus `grants`; export_context and export_creds
  // are granted unless `allow_export` is false.
  void start_daemon(const std::string& grants, bool allow_export = true,
                    const std::string& daemon_extra = "") {
    conn_.reset();
    if (daemon_) {
      ASSERT_TRUE(daemon_->stop_cleanly().ok());
    }
    auto d = GssgatedProcess::start(
        *kdc_, absl::StrCat(
                   "[[rule]]\nname = \"root\"\nuids = [0]\nusages = [\"initiate\", \"accept\"]\n",
                   "keytab = \"", service_keytab_, "\"\nclient_keytab = \"", client_keytab_, "\"\n",
                   allow_export ? "export_context = true\nexport_creds = true\n" : "", grants),
        GssgatedOptions{.daemon_extra = daemon_extra});
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
    conn_ = std::make_shared<Connection>(ConnectionOptions{.socket = daemon_->client_socket()});
  }
  void TearDown() override {
    conn_.reset();
    if (daemon_ && daemon_->pid() > 0) {
      absl::Status s = daemon_->stop_cleanly();
      EXPECT_TRUE(s.ok()) << s;
    }
  }

  Name target() { return Name("HTTP@localhost", NameType::hostbased_service(), conn_); }
  // An initiator that asks for replay and sequence detection as well as mutual authentication.
  SecurityContext sequenced_initiator() {
    return SecurityContext({.name = target(),
                            .flags = RequirementFlagSet{RequirementFlag::mutual_authentication,
                                                        RequirementFlag::replay_detection,
                                                        RequirementFlag::out_of_sequence_detection},
                            .connection = conn_});
  }

  // Steps both sides to completion through the library.
  void establish(SecurityContext& client, SecurityContext& server) {
    std::optional<std::string> token = client.step();
    for (int i = 0; i < 8 && !(client.complete() && server.complete()); ++i) {
      ASSERT_TRUE(token.has_value());
      token = server.step(*token);
      if (client.complete() && server.complete()) break;
      if (token) token = client.step(*token);
    }
    ASSERT_TRUE(client.complete());
    ASSERT_TRUE(server.complete());
  }

  std::unique_ptr<GssgatedProcess> daemon_;
  std::shared_ptr<Connection> conn_;
};

TEST_F(ClientTest, NamesDisplayCanonicalizeExportAndCompareLikePython) {
  Name hostbased = target();
  EXPECT_EQ(hostbased.str(), "HTTP@localhost");
  EXPECT_EQ(hostbased.name_type(), NameType::hostbased_service());
  EXPECT_FALSE(hostbased.is_mech_name());

  Name mn = hostbased.canonicalize(MechType::kerberos());
  EXPECT_EQ(mn.str(), service_principal());
  EXPECT_TRUE(mn.is_mech_name());
  EXPECT_EQ(mn.mech(), MechType::kerberos());
  std::string token = mn.export_name();
  EXPECT_EQ(token.substr(0, 2), std::string("\x04\x01", 2));
  Name back = Name::from_token(token, false, conn_);
  EXPECT_TRUE(back == mn);
  EXPECT_EQ(back.str(), service_principal());
  Name alice_name(alice(), NameType::kerberos_principal(), conn_);
  EXPECT_TRUE(alice_name != mn);
  EXPECT_EQ(alice_name.str(), alice());
}

TEST_F(ClientTest, NameErrorsAreTheSubclassesPythonRaises) {
  // MIT 1.20 reports a malformed exported-name token as a defective token, not a bad name.
  EXPECT_THROW(Name(std::string("\x04\x01garbage", 9), NameType::export_(), conn_),
               InvalidTokenError);
  EXPECT_THROW(target().export_name(), MechanismNameRequiredError);
  EXPECT_EQ(target().mech(), std::nullopt);  // python: None
  EXPECT_THROW(Name::from_token("x", /*composite=*/true, conn_), InvalidTokenError);
  try {
    target().export_name();
    FAIL() << "export_name of a non-MN must throw";
  } catch (const GSSError& e) {
    EXPECT_EQ(e.maj_code(), 18u << 16);
    EXPECT_THAT(e.what(), StartsWith("Major (1179648): "));
    EXPECT_THAT(e.what(), HasSubstr(", Minor ("));
  }
}

TEST_F(ClientTest, CredentialsAcquireAndInquire) {
  AcquireCredResult r =
      Credentials::acquire({.name = Name(alice(), NameType::kerberos_principal(), conn_),
                            .usage = "initiate",
                            .connection = conn_});
  EXPECT_THAT(r.mechs, Contains(MechType::kerberos()));
  ASSERT_TRUE(r.lifetime.has_value());
  EXPECT_GT(*r.lifetime, 9u * 3600);
  EXPECT_EQ(r.creds.name().value().str(), alice());
  EXPECT_EQ(r.creds.usage(), "initiate");
  EXPECT_THAT(r.creds.mechs(), Contains(MechType::kerberos()));
  InquireCredResult partial = r.creds.inquire(/*name=*/false, /*lifetime=*/true, /*usage=*/false,
                                              /*mechs=*/false);
  EXPECT_FALSE(partial.name.has_value());
  EXPECT_TRUE(partial.lifetime.has_value());
  EXPECT_FALSE(partial.usage.has_value());

  InquireCredByMechResult by_mech = r.creds.inquire_by_mech(MechType::kerberos());
  ASSERT_TRUE(by_mech.name.has_value());
  EXPECT_EQ(by_mech.name->str(), alice());
  EXPECT_EQ(by_mech.usage, "initiate");
  ASSERT_TRUE(by_mech.init_lifetime.has_value());
  EXPECT_GT(*by_mech.init_lifetime, 9u * 3600);
  EXPECT_EQ(by_mech.accept_lifetime, 0u) << "an initiator cannot accept";
  EXPECT_FALSE(r.creds.inquire_by_mech(MechType::kerberos(), false, false, false, true).name);
  EXPECT_THROW(r.creds.inquire_by_mech(OID::from_int_seq("1.2.3.4")), GSSError);

  Credentials acceptor({.usage = "accept", .connection = conn_});
  EXPECT_EQ(acceptor.usage(), "accept");

  try {
    Credentials bad({.usage = "sideways", .connection = conn_});
    FAIL() << "an unknown usage must throw";
  } catch (const UnknownUsageError& e) {
    EXPECT_THAT(e.what(), StartsWith("Unable to determine credentials usage: "));
  }
  // Policy refuses a store the rule does not grant.
  EXPECT_THROW(
      Credentials(
          {.usage = "accept", .store = {{"keytab", "/etc/krb5.keytab"}}, .connection = conn_}),
      PermissionDenied);
}

TEST_F(ClientTest, HandshakeWrapUnwrapAndSignaturesThroughTheLibrary) {
  SecurityContext client({.name = target(), .connection = conn_});
  SecurityContext server({.connection = conn_});
  EXPECT_EQ(client.usage(), "initiate");
  EXPECT_EQ(server.usage(), "accept");
  EXPECT_FALSE(client.complete());
  EXPECT_THROW(client.lifetime(), MissingContextError) << "inquiry before the first step";
  establish(client, server);
  if (HasFatalFailure()) return;

  EXPECT_EQ(client.initiator_name().str(), alice());
  EXPECT_EQ(server.initiator_name().str(), alice());
  EXPECT_EQ(client.target_name().str(), service_principal());
  EXPECT_EQ(server.mech(), MechType::kerberos());
  EXPECT_TRUE(client.locally_initiated());
  EXPECT_FALSE(server.locally_initiated());
  RequirementFlagSet flags = server.actual_flags();
  EXPECT_TRUE(flags.contains(RequirementFlag::mutual_authentication));
  EXPECT_TRUE(flags.contains(RequirementFlag::out_of_sequence_detection));
  EXPECT_FALSE(flags.contains(RequirementFlag::delegate_to_peer));
  ASSERT_TRUE(client.lifetime().has_value());
  EXPECT_GT(*client.lifetime(), 9u * 3600);

  WrapResult w = client.wrap("secret", true);
  EXPECT_TRUE(w.encrypted);
  UnwrapResult u = server.unwrap(w.message);
  EXPECT_EQ(u.message, "secret");
  EXPECT_TRUE(u.encrypted);
  EXPECT_EQ(client.decrypt(server.encrypt("back")), "back");

  // decrypt() of an integrity-only token raises EncryptionNotUsed, carrying the message.
  WrapResult plain = client.wrap("not secret", false);
  EXPECT_FALSE(plain.encrypted);
  try {
    server.decrypt(plain.message);
    FAIL() << "decrypt must refuse an unencrypted token";
  } catch (const EncryptionNotUsed& e) {
    EXPECT_EQ(e.unwrapped_message(), "not secret");
    EXPECT_THAT(e.what(), StartsWith("Confidentiality was requested, but not used: "));
  }

  std::string mic = server.get_signature("signed");
  client.verify_signature("signed", mic);
  EXPECT_THROW(client.verify_signature("changed", mic), BadMICError);

  uint32_t limit = client.get_wrap_size_limit(1024, true);
  uint32_t plain_limit = client.get_wrap_size_limit(1024, false);
  EXPECT_GT(limit, 900u);
  EXPECT_LT(limit, 1024u);
  EXPECT_GE(plain_limit, limit) << "no confidentiality, no smaller limit";
  EXPECT_LE(client.wrap(std::string(limit, 'x'), true).message.size(), 1024u);
}

TEST_F(ClientTest, CompleteTracksEachSideThroughAPartialHandshake) {
  SecurityContext client({.name = target(), .connection = conn_});
  SecurityContext server({.connection = conn_});
  EXPECT_FALSE(client.complete());
  EXPECT_FALSE(server.complete());
  std::optional<std::string> t1 = client.step();
  ASSERT_TRUE(t1.has_value());
  EXPECT_FALSE(client.complete()) << "mutual auth: the initiator waits for the AP-REP";
  std::optional<std::string> t2 = server.step(*t1);
  ASSERT_TRUE(t2.has_value());
  EXPECT_TRUE(server.complete());
  EXPECT_FALSE(client.complete());
  EXPECT_FALSE(client.step(*t2).has_value()) << "no token after the last step";
  EXPECT_TRUE(client.complete());
}

// Issue #15, item 2: a step is one call, the completing step brings everything the properties
// need, and a release rides on the connection's next call: a mutual-auth handshake with both
// sides here is three calls (init, accept, init) and nothing else, however the contexts are used
// and dropped afterwards.
TEST_F(ClientTest, AHandshakeIsOneCallPerStepAndItsPropertiesAndReleasesCostNoCallOfTheirOwn) {
  Name name = target();
  const uint64_t before = conn_->calls();
  {
    SecurityContext client({.name = name, .connection = conn_});
    SecurityContext server({.connection = conn_});
    establish(client, server);
    if (HasFatalFailure()) return;
    EXPECT_EQ(conn_->calls() - before, 3u) << "init, accept, init";

    EXPECT_EQ(client.initiator_name().str(), alice());
    EXPECT_EQ(client.target_name().str(), service_principal());
    EXPECT_EQ(server.initiator_name().str(), alice());
    EXPECT_EQ(server.target_name().str(), service_principal());
    EXPECT_EQ(client.mech(), MechType::kerberos());
    EXPECT_EQ(server.mech(), MechType::kerberos());
    EXPECT_TRUE(client.locally_initiated());
    EXPECT_FALSE(server.locally_initiated());
    EXPECT_TRUE(client.actual_flags().contains(RequirementFlag::mutual_authentication));
    EXPECT_TRUE(server.actual_flags().contains(RequirementFlag::mutual_authentication));
    ASSERT_TRUE(client.lifetime().has_value());
    ASSERT_TRUE(server.lifetime().has_value());
    const uint32_t lifetime = *client.lifetime();
    EXPECT_GT(lifetime, 9u * 3600);
    EXPECT_EQ(conn_->calls() - before, 3u) << "the properties asked the daemon";
    // The lifetime counts down as gss_inquire_context's would.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    EXPECT_LT(*client.lifetime(), lifetime);
    EXPECT_GE(*client.lifetime(), lifetime - 2);

    EXPECT_EQ(server.decrypt(client.encrypt("used")), "used");
    EXPECT_EQ(list_handles(false, conn_).size(), 2u);
  }
  const uint64_t after_use = conn_->calls();
  // Both contexts are gone from here; their releases go with the next call, before it runs.
  EXPECT_EQ(list_handles(false, conn_).size(), 0u);
  EXPECT_EQ(conn_->calls() - after_use, 1u) << "the releases were calls of their own";

  // With deferral off, each release is a call of its own when the object goes (MIT's way).
  auto eager = std::make_shared<Connection>(
      ConnectionOptions{.socket = daemon_->client_socket(), .defer_releases = false});
  {
    SecurityContext client({.name = Name("HTTP@localhost", NameType::hostbased_service(), eager),
                            .connection = eager});
    ASSERT_TRUE(client.step().has_value());
    ASSERT_EQ(list_handles(false, eager).size(), 1u);
  }
  const uint64_t released = eager->calls();
  EXPECT_EQ(list_handles(false, eager).size(), 0u);
  EXPECT_EQ(eager->calls() - released, 1u);
}

// The contract a release that does not wait must keep (the asynchronous release tried in
// issue 6 broke it): a caller at its max_handles that drops a context and starts another is
// served, because the daemon releases what the call carries before it runs the call.
TEST_F(ClientTest, ACallerAtItsHandleQuotaThatDropsAContextCanStartAnother) {
  start_daemon("max_handles = 2\n");
  if (HasFatalFailure()) return;
  SecurityContext kept({.name = target(), .connection = conn_});
  ASSERT_TRUE(kept.step().has_value());
  for (int i = 0; i < 20; ++i) {
    SecurityContext dropped({.name = target(), .connection = conn_});
    ASSERT_TRUE(dropped.step().has_value()) << "round " << i;
  }
  SecurityContext one({.name = target(), .connection = conn_});
  ASSERT_TRUE(one.step().has_value());
  // The quota itself still holds.
  SecurityContext three({.name = target(), .connection = conn_});
  try {
    three.step();
    FAIL() << "a third live context is over max_handles = 2";
  } catch (const GeneralError& e) {
    EXPECT_THAT(e.what(), HasSubstr("max_handles"));
  }
}

// accept_once(): the acceptor's whole handshake in one call, with everything a server needs
// (initiator, own name, mech, flags, lifetime, delegated credentials) and no context handle.
TEST_F(ClientTest, AcceptOnceAuthenticatesInOneCallAndKeepsNoContext) {
  SecurityContext client({.name = target(),
                          .flags = RequirementFlagSet{RequirementFlag::mutual_authentication,
                                                      RequirementFlag::out_of_sequence_detection,
                                                      RequirementFlag::delegate_to_peer},
                          .connection = conn_});
  std::optional<std::string> token = client.step();
  ASSERT_TRUE(token.has_value());
  const uint64_t before = conn_->calls();
  AcceptOnceResult accepted = accept_once(*token, {.connection = conn_});
  EXPECT_EQ(conn_->calls() - before, 1u);
  EXPECT_EQ(accepted.initiator_name.str(), alice());
  EXPECT_EQ(accepted.target_name.str(), service_principal());
  EXPECT_EQ(accepted.mech, MechType::kerberos());
  EXPECT_TRUE(accepted.actual_flags.contains(RequirementFlag::mutual_authentication));
  EXPECT_TRUE(accepted.actual_flags.contains(RequirementFlag::delegate_to_peer));
  ASSERT_TRUE(accepted.lifetime.has_value());
  EXPECT_GT(*accepted.lifetime, 9u * 3600);
  ASSERT_TRUE(accepted.token.has_value()) << "mutual authentication: an AP-REP";
  EXPECT_FALSE(client.step(*accepted.token).has_value());
  EXPECT_TRUE(client.complete()) << "the initiator accepted the AP-REP";
  ASSERT_TRUE(accepted.delegated_creds.has_value());
  EXPECT_EQ(accepted.delegated_creds->name().value().str(), alice());
  // The daemon holds the initiator's context and the delegated credential, no acceptor context.
  std::vector<HandleInfo> handles = list_handles(false, conn_);
  EXPECT_EQ(handles.size(), 2u);
  EXPECT_EQ(std::count_if(handles.begin(), handles.end(),
                          [](const HandleInfo& h) { return h.kind == "context"; }),
            1);

  // The same token again is a replay: the error python would raise, and still no handle left.
  EXPECT_THROW(accept_once(*token, {.connection = conn_}), GSSError);
  // Bytes that are no token: the GSSError a step raises, nothing kept.
  EXPECT_THROW(accept_once("not a token", {.connection = conn_}), GSSError);
  EXPECT_EQ(list_handles(false, conn_).size(), 2u);
}

// The protocol under the library: releases carried as metadata skip handles that are not the
// caller's connection's (another connection's, the wrong kind, unknown), and bad metadata is
// refused; release_when_complete deletes the context on the step that completes it.
TEST_F(ClientTest, ReleasesOnTheWireTouchOnlyTheCallersOwnHandles) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own each
  auto connect = [&] {
    return v1::Gssgate::NewStub(grpc::CreateCustomChannel(
        "unix:" + daemon_->socket(), grpc::InsecureChannelCredentials(), args));
  };
  auto a = connect(), b = connect();
  v1::Name service;
  service.set_value("HTTP@localhost");
  service.set_name_type(NameType::hostbased_service().bytes());
  auto first_init = [&](v1::Gssgate::Stub& stub, bool release) {
    v1::InitSecContextRequest request;
    *request.mutable_target() = service;
    request.set_release_when_complete(release);
    v1::InitSecContextReply reply;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub.InitSecContext(&ctx, request, &reply).ok());
    EXPECT_EQ(reply.status().major(), 1u) << "CONTINUE_NEEDED";
    return reply;
  };
  // The uid's handles (ListHandles counts every connection of the caller's uid: a's and b's).
  auto own_handles = [](v1::Gssgate::Stub& stub, const v1::Releases* releases = nullptr) {
    v1::ListHandlesRequest request;
    v1::ListHandlesReply reply;
    grpc::ClientContext ctx;
    if (releases != nullptr) {
      ctx.AddMetadata("gssgate-release-bin", releases->SerializeAsString());
    }
    grpc::Status s = stub.ListHandles(&ctx, request, &reply);
    return s.ok() ? absl::StatusOr<int>(reply.handles_size())
                  : absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  };
  const std::string a_ctx = first_init(*a, false).context();
  v1::AcquireCredsRequest acquire;
  acquire.set_usage(v1::CRED_USAGE_INITIATE);
  v1::AcquireCredsReply a_cred;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(a->AcquireCreds(&ctx, acquire, &a_cred).ok());
    ASSERT_FALSE(a_cred.creds().empty());
  }
  const std::string b_ctx = first_init(*b, false).context();
  ASSERT_FALSE(a_ctx.empty());
  ASSERT_FALSE(b_ctx.empty());

  v1::Releases foreign;
  foreign.add_contexts(a_ctx);           // another connection's, same uid
  foreign.add_contexts("not a handle");  // unknown
  foreign.add_creds(a_cred.creds());     // another connection's credential
  foreign.add_creds(b_ctx);              // its own, but a context named as a credential
  EXPECT_EQ(own_handles(*b, &foreign).value_or(-1), 3) << "a's two handles and b's stay";
  v1::Releases own;
  own.add_contexts(b_ctx);
  EXPECT_EQ(own_handles(*b, &own).value_or(-1), 2) << "b's context went";
  EXPECT_EQ(own_handles(*b, &own).value_or(-1), 2) << "a second release of it is skipped";
  // a's handles are there and still usable by a.
  {
    v1::InquireCredRequest request;
    request.set_creds(a_cred.creds());
    v1::InquireCredReply reply;
    grpc::ClientContext ctx;
    EXPECT_TRUE(a->InquireCred(&ctx, request, &reply).ok());
  }

  v1::Releases too_many;
  for (int i = 0; i < 257; ++i) too_many.add_contexts(a_ctx);
  absl::StatusOr<int> refused = own_handles(*a, &too_many);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("at most 256"));
  EXPECT_EQ(own_handles(*a).value_or(-1), 2) << "a refused call released nothing";
  {
    v1::ListHandlesRequest request;
    v1::ListHandlesReply reply;
    grpc::ClientContext ctx;
    ctx.AddMetadata("gssgate-release-bin", std::string("\xff\xff\xff garbage", 11));
    grpc::Status s = a->ListHandles(&ctx, request, &reply);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("not a gssgate.v1.Releases message"));
  }

  // release_when_complete: the initiator's first step continues (it keeps its handle), the
  // acceptor and the initiator's last step complete and release; each completing reply names
  // both parties.
  v1::InitSecContextReply i1 = first_init(*b, true);
  ASSERT_FALSE(i1.context().empty());
  v1::AcceptSecContextRequest accept;
  accept.set_input_token(i1.output_token());
  accept.set_release_when_complete(true);
  v1::AcceptSecContextReply accepted;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(b->AcceptSecContext(&ctx, accept, &accepted).ok());
  }
  EXPECT_EQ(accepted.status().major(), 0u);
  EXPECT_TRUE(accepted.context().empty());
  EXPECT_EQ(accepted.initiator_name().display(), alice());
  EXPECT_EQ(accepted.target_name().display(), service_principal());
  v1::InitSecContextRequest i2_request;
  i2_request.set_context(i1.context());
  *i2_request.mutable_target() = service;
  i2_request.set_input_token(accepted.output_token());
  i2_request.set_release_when_complete(true);
  v1::InitSecContextReply i2;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(b->InitSecContext(&ctx, i2_request, &i2).ok());
  }
  EXPECT_EQ(i2.status().major(), 0u);
  EXPECT_TRUE(i2.context().empty());
  EXPECT_EQ(i2.initiator_name().display(), alice());
  EXPECT_EQ(i2.target_name().display(), service_principal());
  EXPECT_EQ(own_handles(*b).value_or(-1), 2) << "only a's context and credential";
  EXPECT_THAT(daemon_->log(), HasSubstr("complete (released)"));
}

TEST_F(ClientTest, ChannelBindingsMustMatch) {
  ChannelBindings cb{.application_data = "tls-server-end-point:0123"};
  ChannelBindings other{.initiator_address_type = AddressType::ip,
                        .initiator_address = std::string("\x7f\x00\x00\x01", 4),
                        .application_data = "tls-server-end-point:4567"};
  {
    SecurityContext client({.name = target(), .channel_bindings = cb, .connection = conn_});
    SecurityContext server({.channel_bindings = cb, .connection = conn_});
    establish(client, server);
  }
  SecurityContext client({.name = target(), .channel_bindings = cb, .connection = conn_});
  SecurityContext server({.channel_bindings = other, .connection = conn_});
  server.set_defer_step_errors(false);
  EXPECT_THROW(server.step(*client.step()), BadChannelBindingsError);
}

TEST_F(ClientTest, ReplayedAndOutOfSequenceTokensRaiseSupplementaryErrors) {
  SecurityContext client = sequenced_initiator();
  SecurityContext server({.connection = conn_});
  establish(client, server);
  if (HasFatalFailure()) return;
  std::string t1 = client.wrap("1", true).message;
  std::string t2 = client.wrap("2", true).message;
  std::string t3 = client.wrap("3", true).message;
  EXPECT_EQ(server.unwrap(t1).message, "1");
  EXPECT_THROW(server.unwrap(t1), DuplicateTokenError);
  EXPECT_THROW(server.unwrap(t3), TokenTooEarlyError);  // GSS_S_GAP_TOKEN
  EXPECT_THROW(server.unwrap(t2), TokenTooLateError);   // GSS_S_UNSEQ_TOKEN
  try {
    server.unwrap(t1);
  } catch (const TokenOutOfSequenceError&) {
    ADD_FAILURE() << "a duplicate is not out of sequence";
  } catch (const SupplementaryError& e) {
    EXPECT_EQ(e.maj_code() & 0xffff, 2u);
  }
}

TEST_F(ClientTest, DelegatedCredentialsReachTheAcceptor) {
  SecurityContext client({.name = target(),
                          .flags = RequirementFlagSet{RequirementFlag::mutual_authentication,
                                                      RequirementFlag::out_of_sequence_detection,
                                                      RequirementFlag::delegate_to_peer},
                          .connection = conn_});
  SecurityContext server({.connection = conn_});
  establish(client, server);
  if (HasFatalFailure()) return;
  std::optional<Credentials> delegated = server.delegated_creds();
  ASSERT_TRUE(delegated.has_value());
  EXPECT_EQ(delegated->name().value().str(), alice());
  EXPECT_EQ(delegated->usage(), "initiate");
  // The service can initiate as alice with them.
  SecurityContext onward({.name = target(), .creds = *delegated, .connection = conn_});
  EXPECT_TRUE(onward.step().has_value());
  // Storing them needs policy this fixture's rule does not grant.
  try {
    delegated->store({.usage = "initiate"});
    FAIL() << "store_creds is not granted";
  } catch (const PermissionDenied& e) {
    EXPECT_THAT(e.what(), HasSubstr("store_creds = true"));
  }
}

TEST_F(ClientTest, DelegationIsFilteredByPolicyOnEachSide) {
  const RequirementFlagSet asked{RequirementFlag::mutual_authentication,
                                 RequirementFlag::delegate_to_peer};
  // Neither side granted: the initiator's request loses the flag, so no TGT leaves the daemon.
  start_daemon("");
  if (HasFatalFailure()) return;
  {
    SecurityContext client({.name = target(), .flags = asked, .connection = conn_});
    SecurityContext server({.connection = conn_});
    establish(client, server);
    if (HasFatalFailure()) return;
    EXPECT_FALSE(client.actual_flags().contains(RequirementFlag::delegate_to_peer));
    EXPECT_FALSE(server.actual_flags().contains(RequirementFlag::delegate_to_peer));
    EXPECT_FALSE(server.delegated_creds().has_value());
    EXPECT_EQ(client.decrypt(server.encrypt("works without")), "works without");
  }
  EXPECT_THAT(daemon_->log(), HasSubstr("delegation=filtered (rule grants no delegate)"));

  // The initiator may delegate, the acceptor may not receive: the peer's TGT is released in the
  // daemon and the acceptor's flags say so.
  start_daemon("delegate = true\n");
  if (HasFatalFailure()) return;
  SecurityContext client({.name = target(), .flags = asked, .connection = conn_});
  SecurityContext server({.connection = conn_});
  establish(client, server);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(client.actual_flags().contains(RequirementFlag::delegate_to_peer));
  EXPECT_FALSE(server.actual_flags().contains(RequirementFlag::delegate_to_peer));
  EXPECT_FALSE(server.delegated_creds().has_value());
  EXPECT_THAT(daemon_->log(), HasSubstr("delegated=released (rule grants no accept_delegated)"));
  // Only the credentials the caller acquired itself are live: none from the peer.
  EXPECT_EQ(client.decrypt(server.encrypt("still works")), "still works");
  // The flag stays hidden on the context after export and import (MIT's exported context keeps
  // reporting it).
  SecurityContext imported = SecurityContext::from_token(server.export_context(), conn_);
  EXPECT_FALSE(imported.actual_flags().contains(RequirementFlag::delegate_to_peer));
}

TEST_F(ClientTest, ProcessTokenRejectsAWrongTokenAndTheContextSurvives) {
  SecurityContext client({.name = target(), .connection = conn_});
  SecurityContext server({.connection = conn_});
  // Before any step there is no context to process a token for (python: MissingContextError).
  EXPECT_THROW(server.process_token("x"), MissingContextError);
  establish(client, server);
  if (HasFatalFailure()) return;
  // MIT's krb5 emits no context-deletion token, so the token process_token meets in practice is a
  // wrong one: GSS_S_DEFECTIVE_TOKEN through the daemon, and the context keeps working.
  try {
    server.process_token("not a context token");
    FAIL() << "a wrong context token must raise";
  } catch (const InvalidTokenError& e) {
    EXPECT_EQ(e.maj_code(), 9u << 16);
  }
  EXPECT_EQ(server.decrypt(client.encrypt("still here")), "still here");
}

TEST_F(ClientTest, ExportConsumesTheContextAndTheTokenImportsHereAndInProcess) {
  SecurityContext client({.name = target(), .connection = conn_});
  SecurityContext server({.connection = conn_});
  establish(client, server);
  if (HasFatalFailure()) return;
  std::string token = server.export_context();
  EXPECT_THROW(server.wrap("x", true), MissingContextError) << "export consumes the context";
  SecurityContext imported = SecurityContext::from_token(token, conn_);
  EXPECT_TRUE(imported.complete());
  EXPECT_EQ(imported.usage(), "accept");
  EXPECT_EQ(imported.initiator_name().str(), alice());
  EXPECT_EQ(imported.unwrap(client.wrap("to the import", true).message).message, "to the import");

  std::string again = imported.export_context();
  gss::ContextHandle local;
  gss::GssStatus s = gss::import_context(again, &local);
  ASSERT_TRUE(s.ok()) << describe(s);
  gss::UnwrapResult out;
  s = gss::unwrap(local, client.wrap("to MIT", true).message, &out);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(out.message, "to MIT");
}

TEST_F(ClientTest, MakeLocalMovesTheContextIntoThisProcessAndItStillTalksToTheDaemonsPeer) {
  SecurityContext client = sequenced_initiator();
  SecurityContext server({.connection = conn_});
  EXPECT_THROW(client.make_local(), MissingContextError) << "not started";
  establish(client, server);
  if (HasFatalFailure()) return;
  uint32_t daemon_limit = client.get_wrap_size_limit(1024, true);
  RequirementFlagSet daemon_flags = client.actual_flags();
  ASSERT_EQ(list_handles(false, conn_).size(), 2u);

  EXPECT_FALSE(client.is_local());
  client.make_local();
  ASSERT_TRUE(client.is_local());
  EXPECT_EQ(list_handles(false, conn_).size(), 1u) << "the daemon no longer holds the context";
  client.make_local();  // already local: nothing happens
  EXPECT_TRUE(client.is_local());
  EXPECT_TRUE(client.complete());

  // What the daemon reported before the move, and a lifetime MIT here counts down.
  EXPECT_EQ(client.initiator_name().str(), alice());
  EXPECT_EQ(client.target_name().str(), service_principal());
  EXPECT_EQ(client.mech(), MechType::kerberos());
  EXPECT_TRUE(client.locally_initiated());
  EXPECT_EQ(client.actual_flags(), daemon_flags);
  ASSERT_TRUE(client.lifetime().has_value());
  EXPECT_GT(*client.lifetime(), 9u * 3600);
  EXPECT_EQ(client.get_wrap_size_limit(1024, true), daemon_limit);

  // Local on one side, gssgated on the other, in both directions.
  EXPECT_EQ(server.decrypt(client.encrypt("local to daemon")), "local to daemon");
  EXPECT_EQ(client.decrypt(server.encrypt("daemon to local")), "daemon to local");
  std::string big(64 * 1024, 'b');
  EXPECT_EQ(server.unwrap(client.wrap(big, true).message).message, big);
  client.verify_signature("from the daemon", server.get_signature("from the daemon"));
  server.verify_signature("from here", client.get_signature("from here"));
  std::string mic = server.get_signature("signed");
  EXPECT_THROW(client.verify_signature("changed", mic), BadMICError);
  client.verify_signature("signed", mic);  // the failed check consumed nothing

  // The same errors as through the daemon: replays, and a token that is not one.
  std::string t1 = server.wrap("1", true).message;
  EXPECT_EQ(client.unwrap(t1).message, "1");
  EXPECT_THROW(client.unwrap(t1), DuplicateTokenError);
  EXPECT_THROW(client.unwrap("not a token"), GSSError);
  EXPECT_EQ(client.decrypt(server.encrypt("still fine")), "still fine") << "errors lose nothing";

  // Exported from here, the token is MIT's: plain MIT imports it; this object is then empty.
  std::string token = client.export_context();
  EXPECT_FALSE(client.is_local());
  EXPECT_THROW(client.wrap("x", true), MissingContextError);
  gss::ContextHandle mit;
  gss::GssStatus s = gss::import_context(token, &mit);
  ASSERT_TRUE(s.ok()) << describe(s);
  gss::WrapResult w;
  ASSERT_TRUE(gss::wrap(mit, "from MIT", true, GSS_C_QOP_DEFAULT, &w).ok());
  EXPECT_EQ(server.decrypt(w.token), "from MIT");
}

TEST_F(ClientTest, MakeLocalIsDeniedWithoutExportContextAndTheContextStaysInTheDaemon) {
  start_daemon("", /*allow_export=*/false);
  if (HasFatalFailure()) return;
  SecurityContext client({.name = target(), .connection = conn_});
  SecurityContext server({.connection = conn_});
  establish(client, server);
  if (HasFatalFailure()) return;
  try {
    client.make_local();
    FAIL() << "make_local() must need export_context = true";
  } catch (const PermissionDenied& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not grant export_context"));
  }
  EXPECT_FALSE(client.is_local());
  EXPECT_EQ(server.decrypt(client.encrypt("still in gssgated")), "still in gssgated");
  EXPECT_EQ(list_handles(false, conn_).size(), 2u);
}

TEST_F(ClientTest, TokensInteroperateWithInProcessMitInBothDirections) {
  // libgssgate initiates, plain MIT (this process, the service keytab) accepts.
  {
    SecurityContext client({.name = target(), .connection = conn_});
    gss::AcquiredCred acceptor = acceptor_creds();
    gss::ContextHandle mit;
    gss::AcceptSecContextRequest accept;
    accept.cred = &acceptor.cred;
    std::string token = *client.step();
    accept.input_token = token;
    gss::AcceptSecContextResult out;
    gss::GssStatus s = gss::accept_sec_context(&mit, accept, &out);
    ASSERT_TRUE(s.ok()) << describe(s);
    EXPECT_FALSE(client.step(out.output_token).has_value());
    EXPECT_TRUE(client.complete());
    gss::UnwrapResult un;
    ASSERT_TRUE(gss::unwrap(mit, client.wrap("lib to MIT", true).message, &un).ok());
    EXPECT_EQ(un.message, "lib to MIT");
  }
  // Plain MIT initiates (alice's client keytab), libgssgate accepts.
  {
    gss::AcquiredCred initiator = initiator_creds_from_client_keytab();
    gss::NameHandle svc = service_name();
    gss::ContextHandle mit;
    gss::InitSecContextRequest init;
    init.cred = &initiator.cred;
    init.target = &svc;
    gss::InitSecContextResult out;
    ASSERT_TRUE(gss::init_sec_context(&mit, init, &out).ok());
    SecurityContext server({.connection = conn_});
    std::optional<std::string> reply = server.step(out.output_token);
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(server.complete());
    init.input_token = *reply;
    gss::GssStatus s = gss::init_sec_context(&mit, init, &out);
    ASSERT_TRUE(s.ok()) << describe(s);
    EXPECT_FALSE(s.continue_needed());
    EXPECT_EQ(server.initiator_name().str(), alice());
    gss::WrapResult w;
    ASSERT_TRUE(gss::wrap(mit, "MIT to lib", true, GSS_C_QOP_DEFAULT, &w).ok());
    EXPECT_EQ(server.decrypt(w.token), "MIT to lib");
  }
  // Plain MIT initiates, accept_once() accepts, and MIT takes its AP-REP.
  {
    gss::AcquiredCred initiator = initiator_creds_from_client_keytab();
    gss::NameHandle svc = service_name();
    gss::ContextHandle mit;
    gss::InitSecContextRequest init;
    init.cred = &initiator.cred;
    init.target = &svc;
    gss::InitSecContextResult out;
    ASSERT_TRUE(gss::init_sec_context(&mit, init, &out).ok());
    AcceptOnceResult accepted = accept_once(out.output_token, {.connection = conn_});
    ASSERT_TRUE(accepted.token.has_value());
    EXPECT_EQ(accepted.initiator_name.str(), alice());
    init.input_token = *accepted.token;
    gss::GssStatus s = gss::init_sec_context(&mit, init, &out);
    ASSERT_TRUE(s.ok()) << describe(s);
    EXPECT_FALSE(s.continue_needed());
  }
}

TEST_F(ClientTest, StepErrorsAreDeferredSoTheErrorTokenCanBeSent) {
  // The daemon's keytab goes stale: the KDC now issues kvno 2, the keytab has kvno 1.
  ASSERT_TRUE(kdc_->randomize_key("HTTP/localhost").ok());
  for (bool defer : {true, false}) {
    SecurityContext client({.name = target(), .connection = conn_});
    SecurityContext server({.connection = conn_});
    server.set_defer_step_errors(defer);
    std::string token = *client.step();
    if (defer) {
      std::optional<std::string> error_token = server.step(token);
      ASSERT_TRUE(error_token.has_value()) << "the KRB-ERROR token comes out first";
      EXPECT_THROW(server.complete(), GSSError) << "then the error, on the next call";
      EXPECT_FALSE(server.complete()) << "only once";
    } else {
      try {
        server.step(token);
        FAIL() << "without deferral the step throws";
      } catch (const GSSError& e) {
        EXPECT_FALSE(e.token().empty()) << "and the exception carries the error token";
        EXPECT_THAT(e.what(), HasSubstr("not found in keytab"));
      }
    }
  }
}

// python-gssapi's default usage is "both". Over MIT, a process holding only a keytab gets
// MissingCredentialsError (GSS_S_NO_CRED) for it, as does one holding only a ccache. A caller whose
// rule grants one side gets the same here, with what to ask for instead, not PermissionDenied;
// the side its rule grants works as before.
TEST_F(ClientTest, DefaultUsageBothUnderAOneSidedRuleIsMissingCredentialsAsWithMit) {
  conn_.reset();
  ASSERT_TRUE(daemon_->stop_cleanly().ok());
  auto d = GssgatedProcess::start(
      *kdc_, absl::StrCat("[[rule]]\nname = \"root\"\nuids = [0]\nusages = [\"accept\"]\n",
                          "keytab = \"", service_keytab_, "\"\n"));
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  conn_ = std::make_shared<Connection>(ConnectionOptions{.socket = daemon_->client_socket()});
  try {
    Credentials both({.connection = conn_});
    FAIL() << "usage both under an accept-only rule must not succeed";
  } catch (const MissingCredentialsError& e) {
    EXPECT_EQ(e.maj_code(), 7u << 16);  // GSS_S_NO_CRED
    EXPECT_THAT(e.what(), HasSubstr("grants accept only"));
    EXPECT_THAT(e.what(), HasSubstr("ask for usage \"accept\""));
  }
  Credentials accept({.usage = "accept", .connection = conn_});
  EXPECT_EQ(accept.usage(), "accept");
  // Initiating is still a policy refusal: nothing of it is granted.
  EXPECT_THROW(Credentials({.usage = "initiate", .connection = conn_}), PermissionDenied);
}

TEST_F(ClientTest, UsageDetectionAndArgumentErrorsFollowPython) {
  Credentials initiate({.usage = "initiate", .connection = conn_});
  Credentials accept({.usage = "accept", .connection = conn_});
  // The creds' usage decides when it is not "both", even with a name given — and an acceptor
  // takes no name (python's TypeError).
  EXPECT_EQ(SecurityContext({.creds = accept}).usage(), "accept");
  EXPECT_THROW(SecurityContext({.name = target(), .creds = accept}), std::invalid_argument);
  EXPECT_THROW(SecurityContext({.lifetime = 30, .usage = "accept", .connection = conn_}),
               std::invalid_argument);
  EXPECT_EQ(SecurityContext({.name = target(), .creds = initiate}).usage(), "initiate");
  // Otherwise a name means initiate, no name means accept.
  EXPECT_EQ(SecurityContext({.name = target(), .connection = conn_}).usage(), "initiate");
  EXPECT_EQ(SecurityContext({.connection = conn_}).usage(), "accept");
  // An explicit usage wins.
  EXPECT_EQ(SecurityContext({.name = target(), .creds = accept, .usage = "initiate"}).usage(),
            "initiate");
  try {
    SecurityContext({.usage = "both", .connection = conn_});
    FAIL() << "contexts have no 'both' usage";
  } catch (const UnknownUsageError& e) {
    EXPECT_THAT(e.what(), StartsWith("Unable to determine security context usage: "));
  }
  EXPECT_THROW(SecurityContext({.creds = initiate}), std::invalid_argument)
      << "initiating needs a target name";
  // Objects remember the connection that made them.
  EXPECT_EQ(SecurityContext({.creds = accept}).connection(), conn_);
}

TEST_F(ClientTest, ExportedCredentialsAreSealedAndImportOnlyIntoTheSameDaemon) {
  Credentials alice_creds({.name = Name(alice(), NameType::kerberos_principal(), conn_),
                           .usage = "initiate",
                           .connection = conn_});
  std::string token = alice_creds.export_creds();
  EXPECT_EQ(token.substr(0, 4), "GGS1");
  EXPECT_EQ(token.find("alice"), std::string::npos) << "nothing of the credential shows";
  EXPECT_EQ(token.find(kdc_->realm()), std::string::npos);

  Credentials imported = Credentials::from_token(token, conn_);
  EXPECT_EQ(imported.name().value().str(), alice());
  SecurityContext client({.name = target(), .creds = imported});
  SecurityContext server({.connection = conn_});
  establish(client, server);
  if (HasFatalFailure()) return;
  EXPECT_EQ(server.initiator_name().str(), alice());

  std::string altered = token;
  altered[altered.size() / 2] ^= 1;
  EXPECT_THROW(Credentials::from_token(altered, conn_), InvalidTokenError);
  try {
    Credentials::from_token("not a token", conn_);
    FAIL() << "garbage must not import";
  } catch (const InvalidTokenError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a gssgate credential token"));
  }

  // Another daemon (a restart) has another key: the token is useless there, even under a rule of
  // the same name that allows exports.
  auto restart = [&](const std::string& grants) {
    ASSERT_TRUE(daemon_->stop_cleanly().ok());
    auto d = GssgatedProcess::start(
        *kdc_, absl::StrCat("[[rule]]\nname = \"root\"\nuids = [0]\nusages = [\"initiate\"]\n"
                            "client_keytab = \"",
                            client_keytab_, "\"\n", grants));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
    conn_ = std::make_shared<Connection>(ConnectionOptions{.socket = daemon_->client_socket()});
  };
  restart("export_creds = true\n");
  EXPECT_THROW(Credentials::from_token(token, conn_), InvalidTokenError);
  // A rule without export_creds neither exports nor imports.
  restart("");
  EXPECT_THROW(Credentials::from_token(token, conn_), PermissionDenied);
  Credentials mine({.usage = "initiate", .connection = conn_});
  EXPECT_THROW(mine.export_creds(), PermissionDenied);
}

TEST_F(ClientTest, ImpersonationWorksWherePolicyAndTheKdcAllowIt) {
  // The fixture's rule does not grant impersonation.
  Credentials mine({.usage = "initiate", .connection = conn_});
  EXPECT_THROW(mine.impersonate(Name(alice(), NameType::kerberos_principal(), conn_)),
               PermissionDenied);

  // The service impersonates with its own TGT (from a client keytab of its key); the KDC allows
  // S4U2Self for it, and the rule allows impersonating alice only.
  ASSERT_TRUE(kdc_->kadmin("modprinc +ok_to_auth_as_delegate HTTP/localhost").ok());
  std::string http_client = kdc_->path("http-client.keytab");
  ASSERT_TRUE(kdc_->export_keytab(http_client, {"HTTP/localhost"}).ok());
  ASSERT_TRUE(daemon_->stop_cleanly().ok());
  auto d = GssgatedProcess::start(
      *kdc_, absl::StrCat("[[rule]]\nname = \"service\"\nuids = [0]\n",
                          "usages = [\"initiate\", \"accept\"]\nkeytab = \"", service_keytab_,
                          "\"\nclient_keytab = \"", http_client, "\"\nimpersonate = true\n",
                          "impersonate_principals = [\"", alice(), "\"]\n"));
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  conn_ = std::make_shared<Connection>(ConnectionOptions{.socket = daemon_->client_socket()});

  Name service(service_principal(), NameType::kerberos_principal(), conn_);
  Credentials server_creds({.name = service, .usage = "both", .connection = conn_});
  Credentials as_alice =
      server_creds.impersonate(Name(alice(), NameType::kerberos_principal(), conn_));
  EXPECT_EQ(as_alice.name().value().str(), alice());
  EXPECT_EQ(as_alice.usage(), "initiate");

  SecurityContext client({.name = service, .creds = as_alice});
  SecurityContext server({.creds = server_creds});
  EXPECT_EQ(server.usage(), "accept");
  establish(client, server);
  if (HasFatalFailure()) return;
  EXPECT_EQ(server.initiator_name().str(), alice());

  ASSERT_TRUE(kdc_->add_principal_with_random_key("bob").ok());
  try {
    server_creds.impersonate(Name(kdc_->qualify("bob"), NameType::kerberos_principal(), conn_));
    FAIL() << "bob is not in impersonate_principals";
  } catch (const PermissionDenied& e) {
    EXPECT_THAT(e.what(), HasSubstr("not in impersonate_principals"));
  }
}

TEST_F(ClientTest, AnUnreachableDaemonIsAConnectionErrorNamingTheSocket) {
  auto nowhere = std::make_shared<Connection>(ConnectionOptions{
      .socket = kdc_->path("no-daemon.sock"), .timeout = std::chrono::seconds(5)});
  try {
    Name("HTTP@localhost", NameType::hostbased_service(), nowhere);
    FAIL() << "must not reach a daemon";
  } catch (const ConnectionError& e) {
    EXPECT_THAT(e.what(), HasSubstr(kdc_->path("no-daemon.sock")));
    EXPECT_EQ(e.socket(), kdc_->path("no-daemon.sock"));
  }
}

TEST_F(ClientTest, AKilledDaemonIsAConnectionErrorThenTheSameConnectionWorksAfterARestart) {
  SecurityContext client({.name = target(), .connection = conn_});
  SecurityContext server({.connection = conn_});
  establish(client, server);
  if (HasFatalFailure()) return;
  // SIGKILL: no drain, the socket file stays behind.
  ASSERT_EQ(kill(daemon_->pid(), SIGKILL), 0);
  siginfo_t exited{};  // wait until it is gone, without reaping (the fixture reaps it below)
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(daemon_->pid()), &exited, WEXITED | WNOWAIT), 0);
  try {
    Name("HTTP@localhost", NameType::hostbased_service(), conn_);
    FAIL() << "the daemon is gone";
  } catch (const ConnectionError& e) {
    EXPECT_EQ(e.socket(), daemon_->client_socket());
  }
  // A new daemon on the same path reclaims the stale socket; the caller's Connection reconnects.
  daemon_.reset();
  auto d = GssgatedProcess::start(
      *kdc_, absl::StrCat(
                 "[[rule]]\nname = \"root\"\nuids = [0]\nusages = [\"initiate\", \"accept\"]\n",
                 "keytab = \"", service_keytab_, "\"\nclient_keytab = \"", client_keytab_, "\"\n"));
  ASSERT_TRUE(d.ok()) << d.status();
  daemon_ = std::move(*d);
  // gRPC waits out its reconnect backoff (about 1 s) after the failed call: retry for up to 10 s.
  std::optional<Name> reached;
  for (int i = 0; i < 100 && !reached; ++i) {
    try {
      reached = Name("HTTP@localhost", NameType::hostbased_service(), conn_);
    } catch (const ConnectionError&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(reached.has_value()) << "the restarted daemon was not reached within 10 s";
  EXPECT_EQ(reached->str(), "HTTP@localhost");
  // Handles died with the old process (documented): the old context is a clean MissingContextError.
  EXPECT_THROW(client.wrap("x", true), MissingContextError);
  SecurityContext again({.name = target(), .connection = conn_});
  SecurityContext server2({.connection = conn_});
  establish(again, server2);
  if (HasFatalFailure()) return;
  EXPECT_EQ(server2.decrypt(again.encrypt("after restart")), "after restart");
}

// One uid may run a quarter of max_threads calls at once (issue 14); the daemon refuses the rest
// before running them and says so (gssgate-not-run), and libgssgate makes them again with
// backoff: eight threads of one service through a daemon with one call thread for that uid all
// succeed, as if queued.
TEST_F(ClientTest, CallsBeyondTheUidsShareOfTheDaemonsThreadsAreRetriedNotFailed) {
  start_daemon("admin = true\n", true, "max_threads = 4\n");
  if (HasFatalFailure()) return;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> errors;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        try {
          SecurityContext client({.name = target(), .connection = conn_});
          SecurityContext server({.connection = conn_});
          std::optional<std::string> token = server.step(*client.step());
          client.step(*token);
          if (server.decrypt(client.encrypt("queued")) == "queued") ++ok;
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(mu);
          errors.push_back(e.what());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40) << (errors.empty() ? "" : errors.front());
  // Refusals happened and were retried: each round is six calls (ImportName for the target,
  // init, accept, init, wrap, unwrap) when none is refused; Connection::calls() counts attempts.
  EXPECT_GT(conn_->calls(), 40u * 6) << "no call was refused: the test proves nothing";
  // Releases carried by refused calls were queued again, not lost: every context is gone.
  EXPECT_EQ(list_handles(false, conn_).size(), 0u);
}

TEST_F(ClientTest, OneConnectionServesManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) {
        SecurityContext client({.name = target(), .connection = conn_});
        SecurityContext server({.connection = conn_});
        std::optional<std::string> token = client.step();
        token = server.step(*token);
        client.step(*token);
        if (client.complete() && server.complete() &&
            server.decrypt(client.encrypt("threads")) == "threads") {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 12);
}

}  // namespace
}  // namespace gssgate::testing
