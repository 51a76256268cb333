// Security contexts through lib/ against a real MIT KDC: the handshake, per-message protection,
// replay and sequence detection, channel bindings, delegation, export/import, and MIT's own error
// texts for the failures callers hit in practice.

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/gss/context.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using gss::Flag;
using gss::Flags;
using ::testing::Contains;
using ::testing::HasSubstr;

class ContextTest : public RealmTest {
 protected:
  void SetUp() override {
    RealmTest::SetUp();
    if (HasFatalFailure()) return;
    initiator_ = initiator_creds_from_client_keytab();
    acceptor_ = acceptor_creds();
    target_ = service_name();
  }

  gss::InitSecContextRequest init_request(Flags flags = gss::kDefaultInitFlags) {
    gss::InitSecContextRequest r;
    r.cred = &initiator_.cred;
    r.target = &target_;
    r.mech = gss::oids::krb5();
    r.flags = flags;
    return r;
  }
  gss::AcceptSecContextRequest accept_request() {
    gss::AcceptSecContextRequest r;
    r.cred = &acceptor_.cred;
    return r;
  }
  // An established context pair with the given flags.
  void establish(Handshake* hs, Flags flags = gss::kDefaultInitFlags) {
    gss::GssStatus s = run_handshake(init_request(flags), accept_request(), hs);
    ASSERT_TRUE(s.ok()) << describe(s);
    ASSERT_FALSE(s.continue_needed());
  }

  gss::AcquiredCred initiator_;
  gss::AcquiredCred acceptor_;
  gss::NameHandle target_;
};

TEST_F(ContextTest, MutualHandshakeFromClientKeytabBothSidesSeeNamesFlagsMechAndLifetime) {
  Handshake hs;
  establish(&hs, Flag::kMutual | Flag::kSequence | Flag::kReplay);
  if (HasFatalFailure()) return;

  EXPECT_EQ(display(hs.accept.initiator_name), alice());
  EXPECT_EQ(hs.init.mech, gss::oids::krb5());
  EXPECT_EQ(hs.accept.mech, gss::oids::krb5());
  EXPECT_TRUE(hs.init.flags.contains(Flag::kMutual | Flag::kSequence | Flag::kReplay))
      << hs.init.flags.to_string();
  EXPECT_TRUE(hs.accept.flags.contains(Flag::kMutual | Flag::kSequence | Flag::kReplay))
      << hs.accept.flags.to_string();
  EXPECT_FALSE(hs.accept.flags.contains(Flag::kDelegate));

  gss::ContextInfo ini;
  gss::ContextInfo acc;
  ASSERT_TRUE(gss::inquire_context(hs.initiator, &ini).ok());
  ASSERT_TRUE(gss::inquire_context(hs.acceptor, &acc).ok());
  EXPECT_EQ(display(ini.initiator_name), alice());
  EXPECT_EQ(display(ini.target_name), service_principal());
  EXPECT_EQ(display(acc.initiator_name), alice());
  EXPECT_EQ(display(acc.target_name), service_principal());
  EXPECT_TRUE(ini.locally_initiated);
  EXPECT_FALSE(acc.locally_initiated);
  EXPECT_TRUE(ini.open);
  EXPECT_TRUE(acc.open);
  EXPECT_EQ(ini.mech, gss::oids::krb5());
  // The realm's max_life is 10 h: the ticket, and so both contexts, end within it. MIT's krb5
  // mechanism reports the end time plus the allowed clock skew (300 s by default).
  for (OM_uint32 lifetime : {hs.init.lifetime, hs.accept.lifetime, ini.lifetime, acc.lifetime}) {
    EXPECT_GT(lifetime, 9u * 3600u);
    EXPECT_LE(lifetime, 10u * 3600u + 300u);
  }
  OM_uint32 seconds = 0;
  ASSERT_TRUE(gss::context_time(hs.acceptor, &seconds).ok());
  EXPECT_GT(seconds, 9u * 3600u);
}

TEST_F(ContextTest, HandshakeFromPasswordKinitCcache) {
  std::string ccache = kdc_->path("alice.ccache");
  ASSERT_TRUE(kdc_->kinit_with_password("alice", kAlicePassword, ccache).ok());
  gss::NameHandle user = name(alice(), gss::oids::nt_krb5_principal_name());
  gss::AcquireCredRequest request;
  request.desired_name = &user;
  request.usage = gss::CredUsage::kInitiate;
  request.store.add("ccache", "FILE:" + ccache);
  gss::AcquiredCred from_kinit;
  gss::GssStatus s = gss::acquire_cred(request, &from_kinit);
  ASSERT_TRUE(s.ok()) << describe(s);

  gss::InitSecContextRequest init = init_request();
  init.cred = &from_kinit.cred;
  Handshake hs;
  s = run_handshake(init, accept_request(), &hs);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(display(hs.accept.initiator_name), alice());
  EXPECT_TRUE(hs.accept.flags.contains(gss::kDefaultInitFlags));
}

TEST_F(ContextTest, WrapUnwrapWithAndWithoutConfidentialityBothDirections) {
  Handshake hs;
  establish(&hs);
  if (HasFatalFailure()) return;
  const std::string message = "attack at dawn \x00\x01\xff";
  for (bool encrypt : {true, false}) {
    gss::WrapResult wrapped;
    ASSERT_TRUE(gss::wrap(hs.initiator, message, encrypt, GSS_C_QOP_DEFAULT, &wrapped).ok());
    EXPECT_EQ(wrapped.encrypted, encrypt);
    EXPECT_EQ(wrapped.token.find("attack at dawn") == std::string::npos, encrypt)
        << "plaintext visible in the token exactly when not encrypted";
    gss::UnwrapResult unwrapped;
    gss::GssStatus s = gss::unwrap(hs.acceptor, wrapped.token, &unwrapped);
    ASSERT_TRUE(s.ok()) << describe(s);
    EXPECT_EQ(s.supplementary(), 0u);
    EXPECT_EQ(unwrapped.message, message);
    EXPECT_EQ(unwrapped.encrypted, encrypt);

    // And back from the acceptor.
    ASSERT_TRUE(gss::wrap(hs.acceptor, message, encrypt, GSS_C_QOP_DEFAULT, &wrapped).ok());
    ASSERT_TRUE(gss::unwrap(hs.initiator, wrapped.token, &unwrapped).ok());
    EXPECT_EQ(unwrapped.message, message);
  }
}

TEST_F(ContextTest, GetMicVerifyMicAndTamperedTokensFailWithBadMic) {
  Handshake hs;
  establish(&hs);
  if (HasFatalFailure()) return;
  std::string mic;
  ASSERT_TRUE(gss::get_mic(hs.initiator, "signed text", GSS_C_QOP_DEFAULT, &mic).ok());
  gss_qop_t qop = 1;
  gss::GssStatus s = gss::verify_mic(hs.acceptor, "signed text", mic, &qop);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(qop, GSS_C_QOP_DEFAULT);

  // A changed message no longer matches its MIC.
  ASSERT_TRUE(gss::get_mic(hs.initiator, "signed text", GSS_C_QOP_DEFAULT, &mic).ok());
  s = gss::verify_mic(hs.acceptor, "signed texT", mic, nullptr);
  EXPECT_EQ(s.routine_error(), GSS_S_BAD_SIG) << describe(s);
  EXPECT_THAT(s.major_text, Contains("A token had an invalid Message Integrity Check (MIC)"));

  // A flipped bit in the encrypted payload of a wrap token.
  gss::WrapResult wrapped;
  ASSERT_TRUE(gss::wrap(hs.initiator, "payload", true, GSS_C_QOP_DEFAULT, &wrapped).ok());
  wrapped.token[wrapped.token.size() - 1] ^= 0x01;
  gss::UnwrapResult unwrapped;
  s = gss::unwrap(hs.acceptor, wrapped.token, &unwrapped);
  EXPECT_EQ(s.routine_error(), GSS_S_BAD_SIG) << describe(s);
  EXPECT_THAT(s.message(), HasSubstr("A token had an invalid Message Integrity Check (MIC)"));
}

TEST_F(ContextTest, ReplayedAndOutOfOrderTokensGiveSupplementaryBits) {
  Handshake hs;
  establish(&hs, Flag::kMutual | Flag::kReplay | Flag::kSequence);
  if (HasFatalFailure()) return;
  gss::WrapResult t1, t2, t3;
  ASSERT_TRUE(gss::wrap(hs.initiator, "one", true, GSS_C_QOP_DEFAULT, &t1).ok());
  ASSERT_TRUE(gss::wrap(hs.initiator, "two", true, GSS_C_QOP_DEFAULT, &t2).ok());
  ASSERT_TRUE(gss::wrap(hs.initiator, "three", true, GSS_C_QOP_DEFAULT, &t3).ok());

  gss::UnwrapResult out;
  gss::GssStatus s = gss::unwrap(hs.acceptor, t1.token, &out);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(s.supplementary(), 0u);

  s = gss::unwrap(hs.acceptor, t1.token, &out);  // the same token again
  EXPECT_EQ(s.supplementary() & GSS_S_DUPLICATE_TOKEN, GSS_S_DUPLICATE_TOKEN) << describe(s);
  EXPECT_THAT(s.message(), HasSubstr("duplicate"));

  s = gss::unwrap(hs.acceptor, t3.token, &out);  // skips "two"
  EXPECT_EQ(s.supplementary() & GSS_S_GAP_TOKEN, GSS_S_GAP_TOKEN) << describe(s);

  s = gss::unwrap(hs.acceptor, t2.token, &out);  // arrives after a later one
  EXPECT_EQ(s.supplementary() & GSS_S_UNSEQ_TOKEN, GSS_S_UNSEQ_TOKEN) << describe(s);
}

TEST_F(ContextTest, MatchingChannelBindingsSucceed) {
  gss::ChannelBindings cb;
  cb.application_data = "tls-server-end-point:abcdef";
  gss::InitSecContextRequest init = init_request();
  init.bindings = &cb;
  gss::AcceptSecContextRequest accept = accept_request();
  accept.bindings = &cb;
  Handshake hs;
  gss::GssStatus s = run_handshake(init, accept, &hs);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_FALSE(s.continue_needed());
}

TEST_F(ContextTest, DifferentChannelBindingsFailWithBadBindings) {
  gss::ChannelBindings init_cb;
  init_cb.application_data = "tls-server-end-point:abcdef";
  gss::ChannelBindings accept_cb;
  accept_cb.application_data = "tls-server-end-point:123456";
  gss::InitSecContextRequest init = init_request();
  init.bindings = &init_cb;
  gss::AcceptSecContextRequest accept = accept_request();
  accept.bindings = &accept_cb;
  Handshake hs;
  gss::GssStatus s = run_handshake(init, accept, &hs);
  EXPECT_EQ(s.operation, "gss_accept_sec_context");
  EXPECT_EQ(s.routine_error(), GSS_S_BAD_BINDINGS) << describe(s);
  EXPECT_THAT(s.major_text, Contains(HasSubstr("channel binding")));
}

TEST_F(ContextTest, ForwardableTgtAndDelegationFlagYieldUsableDelegatedCredentials) {
  Handshake hs;
  establish(&hs, gss::kDefaultInitFlags | Flag::kDelegate);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(hs.accept.flags.contains(Flag::kDelegate)) << hs.accept.flags.to_string();
  ASSERT_TRUE(hs.accept.delegated_cred);

  gss::CredInfo info;
  gss::GssStatus s = gss::inquire_cred(hs.accept.delegated_cred, &info);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(display(info.name), alice());
  EXPECT_EQ(info.usage, gss::CredUsage::kInitiate);
  EXPECT_GT(info.lifetime, 0u);

  // The service can act as alice with them: a second handshake initiated from the delegated creds.
  gss::InitSecContextRequest init = init_request();
  init.cred = &hs.accept.delegated_cred;
  Handshake second;
  s = run_handshake(init, accept_request(), &second);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(display(second.accept.initiator_name), alice());
}

TEST_F(ContextTest, NoDelegatedCredentialsWithoutTheFlag) {
  Handshake hs;
  establish(&hs);
  if (HasFatalFailure()) return;
  EXPECT_FALSE(hs.accept.delegated_cred);
  EXPECT_FALSE(hs.accept.flags.contains(Flag::kDelegate));
}

TEST_F(ContextTest, ExportThenImportKeepsTheContextUsableAndTheOriginalIsGone) {
  Handshake hs;
  establish(&hs);
  if (HasFatalFailure()) return;
  std::string token;
  gss::GssStatus s = gss::export_context(&hs.acceptor, &token);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_FALSE(token.empty());
  EXPECT_FALSE(hs.acceptor) << "gss_export_sec_context must consume the original";
  gss::ContextInfo gone;
  EXPECT_EQ(gss::inquire_context(hs.acceptor, &gone).routine_error(), GSS_S_NO_CONTEXT);

  gss::ContextHandle imported;
  s = gss::import_context(token, &imported);
  ASSERT_TRUE(s.ok()) << describe(s);
  gss::WrapResult wrapped;
  ASSERT_TRUE(gss::wrap(hs.initiator, "after import", true, GSS_C_QOP_DEFAULT, &wrapped).ok());
  gss::UnwrapResult unwrapped;
  s = gss::unwrap(imported, wrapped.token, &unwrapped);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(unwrapped.message, "after import");
  gss::ContextInfo info;
  ASSERT_TRUE(gss::inquire_context(imported, &info).ok());
  EXPECT_EQ(display(info.initiator_name), alice());
}

TEST_F(ContextTest, WrapSizeLimitLeavesRoomForTheTokenOverhead) {
  Handshake hs;
  establish(&hs);
  if (HasFatalFailure()) return;
  OM_uint32 max_input = 0;
  ASSERT_TRUE(gss::wrap_size_limit(hs.initiator, true, GSS_C_QOP_DEFAULT, 1024, &max_input).ok());
  EXPECT_GT(max_input, 900u);
  EXPECT_LT(max_input, 1024u);
  gss::WrapResult wrapped;
  ASSERT_TRUE(
      gss::wrap(hs.initiator, std::string(max_input, 'x'), true, GSS_C_QOP_DEFAULT, &wrapped).ok());
  EXPECT_LE(wrapped.token.size(), 1024u);
}

TEST_F(ContextTest, ProcessContextTokenTakesTheDeletionTokenAndRejectsGarbage) {
  Handshake hs;
  establish(&hs);
  if (HasFatalFailure()) return;
  // MIT's krb5 mechanism emits no deletion token (RFC 2744 §5.9 makes it optional), so the only
  // input process_context_token meets in practice is a wrong one, which must fail cleanly.
  gss::GssStatus s = gss::process_context_token(hs.acceptor, "not a context token");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.operation, "gss_process_context_token");
  EXPECT_EQ(s.routine_error(), GSS_S_DEFECTIVE_TOKEN) << describe(s);
  // The context survives the bad token.
  gss::WrapResult wrapped;
  gss::UnwrapResult unwrapped;
  ASSERT_TRUE(gss::wrap(hs.initiator, "still here", true, GSS_C_QOP_DEFAULT, &wrapped).ok());
  s = gss::unwrap(hs.acceptor, wrapped.token, &unwrapped);
  EXPECT_TRUE(s.ok()) << describe(s);
}

TEST_F(ContextTest, GarbageTokenIsRejectedAsDefective) {
  gss::ContextHandle ctx;
  gss::AcceptSecContextRequest accept = accept_request();
  accept.input_token = "this is not a GSSAPI token";
  gss::AcceptSecContextResult out;
  gss::GssStatus s = gss::accept_sec_context(&ctx, accept, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.routine_error(), GSS_S_DEFECTIVE_TOKEN) << describe(s);
  EXPECT_THAT(s.message(), HasSubstr("Invalid token was supplied"));

  Handshake hs;
  establish(&hs);
  if (HasFatalFailure()) return;
  gss::UnwrapResult unwrapped;
  s = gss::unwrap(hs.acceptor, "\x05\x04garbage-garbage-garbage", &unwrapped);
  EXPECT_FALSE(s.ok()) << describe(s);
  s = gss::import_context("not an exported context", &ctx);
  EXPECT_FALSE(s.ok()) << describe(s);
}

TEST_F(ContextTest, KeytabWithStaleKvnoFailsWithMitText) {
  std::string stale = kdc_->path("http-stale.keytab");
  ASSERT_TRUE(kdc_->export_keytab(stale, {"HTTP/localhost"}).ok());
  ASSERT_TRUE(kdc_->randomize_key("HTTP/localhost").ok());  // KDC now issues kvno 2
  gss::AcquiredCred stale_acceptor = acceptor_creds(stale);
  gss::AcceptSecContextRequest accept;
  accept.cred = &stale_acceptor.cred;
  Handshake hs;
  gss::GssStatus s = run_handshake(init_request(), accept, &hs);
  EXPECT_EQ(s.operation, "gss_accept_sec_context");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("kvno 2 not found in keytab")) << describe(s);
}

TEST_F(ContextTest, KeytabWithoutTheTargetPrincipalFailsWithMitText) {
  ASSERT_TRUE(kdc_->add_principal_with_random_key("other/localhost").ok());
  std::string other = kdc_->path("other.keytab");
  ASSERT_TRUE(kdc_->export_keytab(other, {"other/localhost"}).ok());

  // Asking for HTTP@localhost from it fails at acquisition...
  gss::NameHandle svc = service_name();
  gss::AcquireCredRequest request;
  request.desired_name = &svc;
  request.usage = gss::CredUsage::kAccept;
  request.store.add("keytab", other);
  gss::AcquiredCred cred;
  gss::GssStatus s = gss::acquire_cred(request, &cred);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("No key table entry found")) << describe(s);

  // ...and an any-principal acceptor on it fails when the ticket arrives.
  request.desired_name = nullptr;
  s = gss::acquire_cred(request, &cred);
  ASSERT_TRUE(s.ok()) << describe(s);
  gss::AcceptSecContextRequest accept;
  accept.cred = &cred.cred;
  Handshake hs;
  s = run_handshake(init_request(), accept, &hs);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("not found in keytab")) << describe(s);
  EXPECT_THAT(s.message(), HasSubstr(service_principal()));
}

TEST_F(ContextTest, MissingKeytabFailsAcquisitionNamingTheFile) {
  std::string missing = kdc_->path("no-such.keytab");
  gss::NameHandle svc = service_name();
  gss::AcquireCredRequest request;
  request.desired_name = &svc;
  request.usage = gss::CredUsage::kAccept;
  request.store.add("keytab", missing);
  gss::AcquiredCred cred;
  gss::GssStatus s = gss::acquire_cred(request, &cred);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.routine_error(), GSS_S_NO_CRED) << describe(s);
  EXPECT_THAT(s.message(), HasSubstr(missing));
}

TEST_F(ContextTest, StoppedKdcFailsPromptlyWithMitTextAndRecoversAfterRestart) {
  ASSERT_TRUE(kdc_->stop().ok());
  auto started = std::chrono::steady_clock::now();
  Handshake hs;
  gss::GssStatus s = run_handshake(init_request(), accept_request(), &hs);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(s.operation, "gss_init_sec_context");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("Cannot contact any KDC for realm")) << describe(s);
  // A hang guard, not a performance target: with nothing listening on loopback the refusal is
  // immediate; 30 s would mean krb5 is waiting out timeouts it should not have.
  EXPECT_LT(elapsed, std::chrono::seconds(30));

  ASSERT_TRUE(kdc_->restart().ok());
  Handshake again;
  s = run_handshake(init_request(), accept_request(), &again);
  EXPECT_TRUE(s.ok()) << describe(s);
}

}  // namespace
}  // namespace gssgate::testing
