// python-gssapi's own high-level suite (gssapi/tests/test_high_level.py in Debian's python3-gssapi
// 1.8.2), ported case by case to libgssgate and run against a real gssgated and the real test KDC.
// Test names follow the python ones; python's parameterized permutations (exist_perms,
// true_false_perms) are value-parameterized tests over the same bit patterns, so the ~120 python
// cases are ~120 cases here too.
//
// Where the port differs, and why:
// * python's realm has host/FQDN; ours has HTTP/localhost, so TARGET_SERVICE_NAME is
//   "HTTP@localhost" (a hostbased name with its host) and SERVICE_PRINCIPAL "HTTP/localhost@REALM".
//   python kinits the service into the default ccache; here the caller's policy rule grants a
//   client keytab holding alice and the service, the service keytab, and a ccache of its own.
// * Credentials(raw_creds) / SecurityContext(raw_ctx) / Name(raw_name) (test_create_from_other)
//   have no raw layer to come from: the port checks that a copy (or a moved-to context) keeps what
//   python checks. pickle is export + from_token here, as python's pickle calls those too.
// * Stores are policy-checked: store()/acquire()/add() with a store may only name the caller's
//   granted ccache (python writes to any path); the port uses that ccache, and adds the refusal.
// * test_basic_get_set_del_name_attribute_no_auth, test_*_composite_*_with_attrs: upstream needs
//   MIT's test-only "greet" authdata plugin, which Debian does not ship, so upstream skips them
//   here. The port runs them against what MIT 1.20 has: an accepted initiator's name carries its
//   PAC attributes (authenticated, kept by a composite token), and setting or deleting an
//   attribute is refused (OperationUnavailableError) and leaves the name as it was.
// * test_create_from_composite_token_*: a composite token (a name with its attributes) exported
//   to the caller does not import again: the daemon refuses raw composite content from callers
//   (it would parse caller-made PAC data as root; fuzzing found MIT 1.20's parser overflowing on
//   it). The Name object itself keeps its attributes across calls (sealed inside the daemon's
//   name transport), which is what the upstream cases check the token for.
// * MechsTestCase (gssapi.mechs.Mechanism) is not part of the high-level API we mirror.
// * test_impersonate / test_add_with_impersonate run here (upstream needs a KDC that allows S4U):
//   the rule grants impersonate, and alice's delegated credentials impersonate the service.

#include <filesystem>
#include <tuple>

#include "gmock/gmock.h"
#include "gssgate/gssgate.h"
#include "gtest/gtest.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class HighLevelTest : public RealmTest {
 protected:
  void SetUp() override {
    RealmTest::SetUp();
    if (HasFatalFailure()) return;
    // One client keytab with both identities (python kinits each into the default ccache).
    initiator_keytab_ = kdc_->path("initiators.keytab");
    ASSERT_TRUE(kdc_->export_keytab(initiator_keytab_, {"alice", "HTTP/localhost"}).ok());
    // No ccache in the rule: the daemon keeps one per principal the caller names, so alice and
    // the service can both initiate.
    start_daemon("");
    SecurityContext::set_default_defer_step_errors(false);  // as python's module header does
  }
  void start_daemon(const std::string& ccache) {
    if (daemon_) {
      ASSERT_TRUE(daemon_->stop_cleanly().ok());
    }
    auto d = GssgatedProcess::start(
        *kdc_, absl::StrCat("[[rule]]\nname = \"caller\"\nuids = [0]\n",
                            "usages = [\"initiate\", \"accept\"]\nkeytab = \"", service_keytab_,
                            "\"\nclient_keytab = \"", initiator_keytab_, "\"\n",
                            ccache.empty() ? "" : absl::StrCat("ccache = \"", ccache, "\"\n"),
                            "export_context = true\nexport_creds = true\n",
                            "store_creds = true\nimpersonate = true\n",
                            "delegate = true\naccept_delegated = true\n"));
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = std::move(*d);
    conn_ = std::make_shared<Connection>(ConnectionOptions{.socket = daemon_->client_socket()});
  }
  // For the store-into cases: a rule that names the caller's ccache, so the caller can name it too.
  void use_named_ccache() {
    ccache_ = absl::StrCat("FILE:", kdc_->path("caller.ccache"));
    start_daemon(ccache_);
  }
  void TearDown() override {
    SecurityContext::set_default_defer_step_errors(true);
    conn_.reset();
    if (daemon_ && daemon_->pid() > 0) {
      absl::Status s = daemon_->stop_cleanly();
      EXPECT_TRUE(s.ok()) << s;
    }
  }

  // python's TARGET_SERVICE_NAME (hostbased) and SERVICE_PRINCIPAL (krb5 principal).
  Name target_name() { return Name("HTTP@localhost", NameType::hostbased_service(), conn_); }
  Name service_name() { return Name(service_principal(), NameType::kerberos_principal(), conn_); }

  SecurityContext client_ctx(SecurityContextOptions o = {}) {
    o.name = target_name();
    o.connection = conn_;
    return SecurityContext(std::move(o));
  }
  Credentials server_creds() {
    return Credentials({.name = service_name(), .usage = "accept", .connection = conn_});
  }
  SecurityContext server_ctx(std::optional<ChannelBindings> bindings = std::nullopt) {
    return SecurityContext(
        {.creds = server_creds(), .channel_bindings = std::move(bindings), .connection = conn_});
  }

  // python's _create_completed_contexts: a client with lifetime 400 and a server, both complete.
  std::pair<SecurityContext, SecurityContext> completed_contexts() {
    SecurityContext client = client_ctx({.lifetime = 400});
    std::optional<std::string> client_token = client.step();
    EXPECT_TRUE(client_token.has_value());
    SecurityContext server = server_ctx();
    std::optional<std::string> server_token = server.step(client_token.value_or(""));
    EXPECT_TRUE(server_token.has_value());
    client.step(server_token.value_or(""));
    return {std::move(client), std::move(server)};
  }

  // alice initiates to the service with delegation; returns the server side (holding alice's
  // delegated credentials) and the service's both-ways credentials.
  SecurityContext delegated_server_ctx() {
    Credentials alice_creds({.name = Name(alice(), NameType::kerberos_principal(), conn_),
                             .usage = "initiate",
                             .connection = conn_});
    SecurityContext client({.name = service_name(),
                            .creds = alice_creds,
                            .flags = RequirementFlagSet{RequirementFlag::delegate_to_peer},
                            .connection = conn_});
    std::optional<std::string> token = client.step();
    EXPECT_TRUE(token.has_value());
    SecurityContext server(
        {.creds = Credentials({.name = service_name(), .usage = "both", .connection = conn_}),
         .connection = conn_});
    server.step(token.value_or(""));
    EXPECT_TRUE(server.complete());
    return server;
  }

  std::string initiator_keytab_;
  std::string ccache_;
  std::unique_ptr<GssgatedProcess> daemon_;
  std::shared_ptr<Connection> conn_;
};

// python's exist_perms(lifetime=30, mechs=[kerberos], usage=…): which keyword arguments are given.
struct AcquirePerm {
  bool lifetime, mechs, usage;
};
std::vector<AcquirePerm> acquire_perms() {
  std::vector<AcquirePerm> out;
  for (int bits = 0; bits < 8; ++bits)
    out.push_back({bool(bits & 1), bool(bits & 2), bool(bits & 4)});
  return out;
}
std::string perm_name(const ::testing::TestParamInfo<AcquirePerm>& info) {
  std::string out = "with_params";
  if (info.param.lifetime) out += "_lifetime";
  if (info.param.mechs) out += "_mechs";
  if (info.param.usage) out += "_usage";
  return info.param.lifetime || info.param.mechs || info.param.usage ? out : out + "_none";
}

// ---- CredsTestCase --------------------------------------------------------------------------

class CredsAcquireTest : public HighLevelTest, public ::testing::WithParamInterface<AcquirePerm> {
 protected:
  CredentialsOptions options(const std::string& usage) {
    CredentialsOptions o{.name = service_name(), .connection = conn_};
    if (GetParam().lifetime) o.lifetime = 30;
    if (GetParam().mechs) o.mechs = {MechType::kerberos()};
    if (GetParam().usage) o.usage = usage;
    return o;
  }
};

TEST_P(CredsAcquireTest, test_acquire_by_init) {
  Credentials creds(options("both"));
  // MIT ignores the requested lifetime (python's NB); the service's tickets come from a keytab.
  std::optional<uint32_t> lifetime = creds.lifetime();
  ASSERT_TRUE(lifetime.has_value());
  EXPECT_GT(*lifetime, 0u);
}

TEST_P(CredsAcquireTest, test_acquire_by_method) {
  AcquireCredResult result = Credentials::acquire(options("both"));
  EXPECT_EQ(result.creds.name(), service_name());
  EXPECT_THAT(result.mechs, Contains(MechType::kerberos()));
  ASSERT_TRUE(result.lifetime.has_value());
  EXPECT_GT(*result.lifetime, 0u);
}

INSTANTIATE_TEST_SUITE_P(Perms, CredsAcquireTest, ::testing::ValuesIn(acquire_perms()), perm_name);

class CredsTest : public HighLevelTest {};

// python: Credentials(usage='accept') from a keytab, no name asked for: .name is the keytab's
// first principal (MIT's inquire_cred of a default acceptor), not None; name() is an optional
// for the credentials GSSAPI names no principal for, where python returns None.
TEST_F(CredsTest, ADefaultAcceptorIsNamedByItsKeytabsPrincipalAsInPython) {
  Credentials acceptor({.usage = "accept", .connection = conn_});
  std::optional<Name> name = acceptor.name();
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->str(), service_principal());
  EXPECT_EQ(acceptor.usage(), "accept");
}

TEST_F(CredsTest, test_store_acquire) {
  SecurityContext server = delegated_server_ctx();
  std::optional<Credentials> deleg_creds = server.delegated_creds();
  ASSERT_TRUE(deleg_creds.has_value());

  StoreCredResult store_res = deleg_creds->store(
      {.usage = "initiate", .mech = MechType::kerberos(), .overwrite = true, .set_default = true});
  EXPECT_EQ(store_res.usage, "initiate");
  EXPECT_THAT(store_res.mechs, Contains(MechType::kerberos()));

  Credentials reacquired({.name = deleg_creds->name(), .usage = "initiate", .connection = conn_});
  EXPECT_EQ(reacquired.name().value().str(), alice());
  // And they work: a handshake as alice from the stored tickets.
  SecurityContext client({.name = service_name(), .creds = reacquired, .connection = conn_});
  SecurityContext acceptor = server_ctx();
  acceptor.step(client.step().value());
  EXPECT_EQ(acceptor.initiator_name().str(), alice());
}

TEST_F(CredsTest, StoredDelegatedTicketsAreWhatLaterAcquisitionsUse) {
  // Beyond python: carol is in no keytab, so the daemon can act as her only with tickets she
  // delegated and the caller stored. She initiates in plain in-process MIT from a password kinit.
  ASSERT_TRUE(kdc_->add_principal_with_password("carol", "carol-pw-1").ok());
  const std::string carol_ccache = kdc_->path("carol.ccache");
  ASSERT_TRUE(kdc_->kinit_with_password("carol", "carol-pw-1", carol_ccache).ok());
  const std::string carol = kdc_->qualify("carol");
  EXPECT_THROW(
      Credentials(
          {.name = Name(carol, std::nullopt, conn_), .usage = "initiate", .connection = conn_}),
      GSSError);

  gss::NameHandle carol_name = name(carol, gss::oids::nt_krb5_principal_name());
  gss::AcquireCredRequest want;
  want.desired_name = &carol_name;
  want.usage = gss::CredUsage::kInitiate;
  want.store.add("ccache", absl::StrCat("FILE:", carol_ccache));
  gss::AcquiredCred carol_creds;
  ASSERT_TRUE(gss::acquire_cred(want, &carol_creds).ok());
  gss::NameHandle svc = RealmTest::service_name();
  gss::InitSecContextRequest init;
  init.cred = &carol_creds.cred;
  init.target = &svc;
  init.flags = gss::kDefaultInitFlags | gss::Flag::kDelegate;
  gss::ContextHandle mit;
  gss::InitSecContextResult out;
  ASSERT_TRUE(gss::init_sec_context(&mit, init, &out).ok());

  SecurityContext server = server_ctx();
  server.step(out.output_token);
  std::optional<Credentials> delegated = server.delegated_creds();
  ASSERT_TRUE(delegated.has_value());
  EXPECT_EQ(delegated->name().value().str(), carol);
  delegated->store({.usage = "initiate", .overwrite = true, .set_default = true});

  Credentials as_carol(
      {.name = Name(carol, std::nullopt, conn_), .usage = "initiate", .connection = conn_});
  SecurityContext client({.name = service_name(), .creds = as_carol, .connection = conn_});
  SecurityContext acceptor = server_ctx();
  acceptor.step(client.step().value());
  EXPECT_EQ(acceptor.initiator_name().str(), carol);
}

TEST_F(CredsTest, test_store_into_acquire_from) {
  use_named_ccache();
  if (HasFatalFailure()) return;
  const std::map<std::string, std::string> store = {{"ccache", ccache_}};
  Credentials initial_creds({.name = Name(alice(), NameType::kerberos_principal(), conn_),
                             .usage = "initiate",
                             .connection = conn_});
  StoreCredResult store_res = initial_creds.store({.store = store, .overwrite = true});
  EXPECT_FALSE(store_res.mechs.empty());
  EXPECT_EQ(store_res.usage, "initiate");

  Credentials retrieved({.name = Name(alice(), std::nullopt, conn_),
                         .usage = "initiate",
                         .store = store,
                         .connection = conn_});
  EXPECT_EQ(retrieved.name().value().str(), alice());

  // Beyond python: a store the caller's rule does not grant is refused, before any file is touched.
  const std::string elsewhere = absl::StrCat("FILE:", kdc_->path("other_ccache"));
  EXPECT_THROW(initial_creds.store({.store = {{"ccache", elsewhere}}, .overwrite = true}),
               PermissionDenied);
  EXPECT_FALSE(std::filesystem::exists(kdc_->path("other_ccache")));
}

TEST_F(CredsTest, test_create_from_other) {
  Credentials accept_creds({.usage = "accept", .connection = conn_});
  Credentials high_level_creds = accept_creds;  // python wraps raw creds; here a copy shares them
  EXPECT_EQ(high_level_creds.usage(), "accept");
}

class CredsInquireTest : public HighLevelTest,
                         public ::testing::WithParamInterface<std::tuple<bool, bool, bool, bool>> {
};

TEST_P(CredsInquireTest, test_inquire) {
  auto [name, lifetime, usage, mechs] = GetParam();
  Credentials creds({.name = service_name(), .connection = conn_});
  InquireCredResult resp = creds.inquire(name, lifetime, usage, mechs);
  if (name) {
    ASSERT_TRUE(resp.name.has_value());
    EXPECT_EQ(*resp.name, service_name());
  } else {
    EXPECT_FALSE(resp.name.has_value());
  }
  if (lifetime) {
    ASSERT_TRUE(resp.lifetime.has_value());
    EXPECT_GT(*resp.lifetime, 0u);
  } else {
    EXPECT_FALSE(resp.lifetime.has_value());
  }
  if (usage) {
    EXPECT_EQ(resp.usage, "both");
  } else {
    EXPECT_FALSE(resp.usage.has_value());
  }
  if (mechs) {
    ASSERT_TRUE(resp.mechs.has_value());
    EXPECT_THAT(*resp.mechs, Contains(MechType::kerberos()));
  } else {
    EXPECT_FALSE(resp.mechs.has_value());
  }
}

TEST_P(CredsInquireTest, test_inquire_by_mech) {
  auto [name, init_lifetime, accept_lifetime, usage] = GetParam();
  Credentials creds({.name = service_name(), .connection = conn_});
  InquireCredByMechResult resp =
      creds.inquire_by_mech(MechType::kerberos(), name, init_lifetime, accept_lifetime, usage);
  if (name) {
    ASSERT_TRUE(resp.name.has_value());
    EXPECT_EQ(*resp.name, service_name());
  } else {
    EXPECT_FALSE(resp.name.has_value());
  }
  if (init_lifetime) {
    ASSERT_TRUE(resp.init_lifetime.has_value());
    EXPECT_GT(*resp.init_lifetime, 0u);
  } else {
    EXPECT_FALSE(resp.init_lifetime.has_value());
  }
  if (accept_lifetime) {
    ASSERT_TRUE(resp.accept_lifetime.has_value());
    EXPECT_GT(*resp.accept_lifetime, 0u);
  } else {
    EXPECT_FALSE(resp.accept_lifetime.has_value());
  }
  if (usage) {
    EXPECT_EQ(resp.usage, "both");
  } else {
    EXPECT_FALSE(resp.usage.has_value());
  }
}

std::string bools_name(const ::testing::TestParamInfo<std::tuple<bool, bool, bool, bool>>& info) {
  auto [a, b, c, d] = info.param;
  return absl::StrCat("perm_", int(a), int(b), int(c), int(d));
}
INSTANTIATE_TEST_SUITE_P(Perms, CredsInquireTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(), ::testing::Bool(),
                                            ::testing::Bool()),
                         bools_name);

TEST_F(CredsTest, test_add) {
  Credentials input_creds = Credentials::empty(conn_);
  Credentials new_creds = input_creds.add(Name(service_principal(), std::nullopt, conn_),
                                          MechType::kerberos(), {.usage = "initiate"});
  EXPECT_EQ(new_creds.name(), service_name());
  EXPECT_EQ(new_creds.usage(), "initiate");
  // The input stays empty; adding the same mechanism again to the result is a duplicate element.
  EXPECT_THROW(input_creds.usage(), MissingCredentialsError);
  EXPECT_THROW(new_creds.add(service_name(), MechType::kerberos(), {.usage = "initiate"}),
               DuplicateCredentialsElementError);
}

TEST_F(CredsTest, test_store_into_add_from) {
  use_named_ccache();
  if (HasFatalFailure()) return;
  const std::map<std::string, std::string> store = {{"ccache", ccache_}};
  Credentials initial_creds(
      {.name = Name(alice(), std::nullopt, conn_), .usage = "initiate", .connection = conn_});
  StoreCredResult store_res = initial_creds.store({.store = store, .overwrite = true});
  EXPECT_FALSE(store_res.mechs.empty());
  EXPECT_EQ(store_res.usage, "initiate");

  Credentials retrieved =
      Credentials::empty(conn_).add(Name(alice(), std::nullopt, conn_), MechType::kerberos(),
                                    {.usage = "initiate", .store = store});
  EXPECT_EQ(retrieved.name().value().str(), alice());
  // Beyond python: add() with a store the rule does not grant is refused.
  EXPECT_THROW(
      Credentials::empty(conn_).add(
          Name(alice(), std::nullopt, conn_), MechType::kerberos(),
          {.usage = "initiate", .store = {{"ccache", absl::StrCat("FILE:", kdc_->path("other"))}}}),
      PermissionDenied);
}

TEST_F(CredsTest, test_export) {
  Credentials creds({.name = service_name(), .mechs = {MechType::kerberos()}, .connection = conn_});
  std::string token = creds.export_creds();
  EXPECT_FALSE(token.empty());
}

// python compares two remaining lifetimes exactly; each is read by a call of its own, so a second
// boundary between the calls may take one away (seen in CI: 35999 vs 36000).
void expect_same_lifetime(const Credentials& a, const Credentials& b) {
  const std::optional<uint32_t> x = a.lifetime();
  const std::optional<uint32_t> y = b.lifetime();
  ASSERT_TRUE(x.has_value() && y.has_value());
  EXPECT_LE(std::max(*x, *y) - std::min(*x, *y), 1u) << *x << " vs " << *y;
}

TEST_F(CredsTest, test_import_by_init) {
  Credentials creds({.name = service_name(), .mechs = {MechType::kerberos()}, .connection = conn_});
  Credentials imported = Credentials::from_token(creds.export_creds(), conn_);
  expect_same_lifetime(imported, creds);
  EXPECT_EQ(imported.name(), creds.name());
}

TEST_F(CredsTest, test_pickle_unpickle) {
  // python pickles Credentials through export()/Credentials(token=…).
  Credentials creds({.name = service_name(), .mechs = {MechType::kerberos()}, .connection = conn_});
  std::string pickled = creds.export_creds();
  Credentials unpickled = Credentials::from_token(pickled, conn_);
  expect_same_lifetime(unpickled, creds);
  EXPECT_EQ(unpickled.name(), creds.name());
}

class CredsImpersonateTest : public HighLevelTest,
                             public ::testing::WithParamInterface<AcquirePerm> {};

TEST_P(CredsImpersonateTest, test_impersonate) {
  SecurityContext server = delegated_server_ctx();
  std::optional<Credentials> delegated = server.delegated_creds();
  ASSERT_TRUE(delegated.has_value());
  std::optional<uint32_t> lifetime;
  std::set<OID> mechs;
  if (GetParam().lifetime) lifetime = 30;
  if (GetParam().mechs) mechs = {MechType::kerberos()};
  // python's default usage for impersonate() is "initiate" too, so the usage perm changes nothing
  // but is kept to mirror the cases.
  Credentials imp_creds = delegated->impersonate(service_name(), lifetime, mechs, "initiate");
  EXPECT_EQ(imp_creds.name(), service_name());
}

INSTANTIATE_TEST_SUITE_P(Perms, CredsImpersonateTest, ::testing::ValuesIn(acquire_perms()),
                         perm_name);

TEST_F(CredsTest, test_add_with_impersonate) {
  SecurityContext server = delegated_server_ctx();
  std::optional<Credentials> delegated = server.delegated_creds();
  ASSERT_TRUE(delegated.has_value());
  Credentials new_creds = Credentials::empty(conn_).add(
      service_name(), MechType::kerberos(), {.usage = "initiate", .impersonator = *delegated});
  EXPECT_EQ(new_creds.name(), service_name());
  // python's ValueError for both at once.
  EXPECT_THROW(Credentials::empty(conn_).add(
                   service_name(), MechType::kerberos(),
                   {.impersonator = *delegated, .store = {{"ccache", "FILE:/tmp/x"}}}),
               std::invalid_argument);
}

// ---- NamesTestCase --------------------------------------------------------------------------

class NamesTest : public HighLevelTest {};

TEST_F(NamesTest, test_create_from_other) {
  Name raw_name = Name::from_bytes(service_principal(), std::nullopt, conn_);
  Name high_level_name = raw_name;  // python wraps a raw name; a copy is the C++ equivalent
  EXPECT_EQ(high_level_name.bytes(), service_principal());
}

TEST_F(NamesTest, test_create_from_name_no_type) {
  Name name(service_principal(), std::nullopt, conn_);
  EXPECT_EQ(name.str(), service_principal());
}

TEST_F(NamesTest, test_create_from_name_and_type) {
  Name name(service_principal(), NameType::kerberos_principal(), conn_);
  EXPECT_EQ(name.name_type(), NameType::kerberos_principal());
}

TEST_F(NamesTest, test_create_from_token) {
  std::string exported = target_name().canonicalize(MechType::kerberos()).export_name();
  Name name2 = Name::from_token(exported, false, conn_);
  EXPECT_EQ(name2.name_type(), NameType::kerberos_principal());
}

TEST_F(NamesTest, test_display_as) {
  Name canonical_name = target_name().canonicalize(MechType::kerberos());
  // krb5 has no display_name_ext of its own: MIT answers for the type the name was created with,
  // with the plain display text (python's note), and refuses any other.
  std::string krb_name = canonical_name.display_as(NameType::hostbased_service());
  EXPECT_EQ(canonical_name.str(), service_principal());
  EXPECT_EQ(krb_name, service_principal());
  EXPECT_THROW(canonical_name.display_as(NameType::kerberos_principal()),
               OperationUnavailableError);
  EXPECT_THROW(canonical_name.display_as(NameType::user()), OperationUnavailableError);
  // Beyond python's case: a name the daemon imports as given, and a context's peer.
  EXPECT_EQ(target_name().display_as(NameType::hostbased_service()), "HTTP@localhost");
  EXPECT_THROW(Name(alice(), std::nullopt, conn_).display_as(NameType::kerberos_principal()),
               OperationUnavailableError);
  auto [client, server] = completed_contexts();
  Name initiator = server.initiator_name();
  EXPECT_EQ(initiator.display_as(NameType::kerberos_principal()), initiator.str());
  EXPECT_THROW(initiator.display_as(NameType::hostbased_service()), OperationUnavailableError);
}

TEST_F(NamesTest, test_create_from_composite_token_no_attrs) {
  Name canon_name = target_name().canonicalize(MechType::kerberos());
  std::string exported = canon_name.export_name(true);
  // As python: the composite token gssgated exported imports again.
  Name name2 = Name::from_token(exported, /*composite=*/true, conn_);
  EXPECT_EQ(name2.str(), service_principal());
  EXPECT_TRUE(name2.is_mech_name());
  // gssgate: a composite token gssgated did not issue is refused before MIT parses it (here MIT's
  // own format, made from the plain token by its RFC 6680 token id).
  std::string raw = canon_name.export_name();
  raw[1] = '\x02';
  try {
    Name::from_token(raw, /*composite=*/true, conn_);
    FAIL() << "a raw composite token must not import";
  } catch (const InvalidTokenError& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not parse attribute data from callers"));
  }
  // MIT's composite form with an empty attribute section is the name alone, and imports.
  Name bare = Name::from_token(raw + std::string(4, '\0'), /*composite=*/true, conn_);
  EXPECT_EQ(bare, canon_name);
  // With attribute bytes after it, however few, it is refused as above.
  EXPECT_THROW(Name::from_token(raw + std::string("\0\0\0\1x", 5), true, conn_),
               InvalidTokenError);
}

TEST_F(NamesTest, test_create_from_composite_token_with_attrs) {
  // Attributes from the real source MIT has: the PAC of an accepted initiator.
  auto [client, server] = completed_contexts();
  Name initiator = server.initiator_name();
  std::string exported = initiator.export_name(/*composite=*/true);
  // As python: the round trip keeps the attributes (and, as MIT 1.20 does, under either
  // exported-name type).
  Name name2 = Name::from_token(exported, /*composite=*/true, conn_);
  EXPECT_EQ(name2.str(), initiator.str());
  EXPECT_EQ(name2.attributes().keys(), initiator.attributes().keys());
  GetNameAttributeResult imported_pac = name2.attributes()["urn:mspac:"];
  EXPECT_TRUE(imported_pac.authenticated);
  EXPECT_EQ(imported_pac.values, initiator.attributes()["urn:mspac:"].values);
  EXPECT_EQ(Name::from_token(exported, /*composite=*/false, conn_).attributes().keys(),
            initiator.attributes().keys());
  // gssgate: the token is sealed by the daemon, so an altered one is refused, whichever byte.
  for (size_t at : {size_t{8}, exported.size() / 2, exported.size() - 1}) {
    std::string altered = exported;
    altered[at] = static_cast<char>(altered[at] ^ 0x01);
    EXPECT_THROW(Name::from_token(altered, /*composite=*/true, conn_), InvalidTokenError) << at;
  }
  // What upstream checks the token for holds for the Name itself, across calls: the PAC, complete
  // and authenticated.
  GetNameAttributeResult pac = initiator.attributes()["urn:mspac:"];
  EXPECT_EQ(pac.values.size(), 1u);
  EXPECT_TRUE(pac.complete);
  EXPECT_TRUE(pac.authenticated);
  Name copy = initiator;
  EXPECT_EQ(copy.attributes().keys(), initiator.attributes().keys());
  // A plain exported name still imports, without attributes.
  Name plain = Name::from_token(initiator.export_name(), /*composite=*/false, conn_);
  EXPECT_EQ(plain.str(), initiator.str());
  EXPECT_THAT(plain.attributes().keys(), ::testing::Not(Contains("urn:mspac:")));
}

TEST_F(NamesTest, test_to_str) {
  Name name(service_principal(), NameType::kerberos_principal(), conn_);
  EXPECT_EQ(name.str(), service_principal());
}

TEST_F(NamesTest, test_to_unicode) {
  // python's str() decodes with the current encoding: here a name with a non-ASCII character
  // round-trips as UTF-8 by default and through Latin-1 bytes after set_encoding("latin-1").
  const std::string jose_utf8 = "jos\xc3\xa9@" + kdc_->realm();  // "josé" in UTF-8
  Name utf8(jose_utf8, NameType::kerberos_principal(), conn_);
  EXPECT_EQ(utf8.str(), jose_utf8);
  EXPECT_EQ(utf8.bytes(), jose_utf8);
  set_encoding("latin-1");
  EXPECT_EQ(get_encoding(), "latin-1");
  Name latin1(jose_utf8, NameType::kerberos_principal(), conn_);
  EXPECT_EQ(latin1.str(), jose_utf8);  // decoded back from Latin-1
  set_encoding("utf-8");
  EXPECT_EQ(latin1.bytes(), "jos\xe9@" + kdc_->realm());
  EXPECT_EQ(latin1.str(), "jos\xe9@" + kdc_->realm());  // decoded as UTF-8 now: raw byte stays
  EXPECT_THROW(set_encoding("no-such-encoding"), std::invalid_argument);
  EXPECT_EQ(get_encoding(), "utf-8");
}

TEST_F(NamesTest, test_to_bytes) {
  Name name(service_principal(), NameType::kerberos_principal(), conn_);
  EXPECT_EQ(name.bytes(), service_principal());
}

TEST_F(NamesTest, test_compare) {
  Name name1(service_principal(), std::nullopt, conn_);
  Name name2(service_principal(), std::nullopt, conn_);
  Name name3("HTTP", NameType::hostbased_service(), conn_);
  EXPECT_TRUE(name1 == name2);
  EXPECT_TRUE(name1 != name3);
}

TEST_F(NamesTest, test_canoncialize_and_export) {
  Name name(service_principal(), NameType::kerberos_principal(), conn_);
  std::string exported = name.canonicalize(MechType::kerberos()).export_name();
  EXPECT_EQ(exported.substr(0, 2), std::string("\x04\x01", 2));
}

TEST_F(NamesTest, test_canonicalize) {
  Name canonicalized = target_name().canonicalize(MechType::kerberos());
  // python expects "host/FQDN@" (no realm for an unmapped host); our krb5.conf maps localhost.
  EXPECT_EQ(canonicalized.bytes(), service_principal());
}

TEST_F(NamesTest, test_copy) {
  Name name1(service_principal(), std::nullopt, conn_);
  Name name2 = name1;
  EXPECT_TRUE(name1 == name2);
}

TEST_F(NamesTest, test_is_mech_name) {
  Name name = target_name();
  EXPECT_FALSE(name.is_mech_name());
  EXPECT_EQ(name.mech(), std::nullopt);
  Name canon_name = name.canonicalize(MechType::kerberos());
  EXPECT_TRUE(canon_name.is_mech_name());
  EXPECT_EQ(canon_name.mech(), MechType::kerberos());
}

TEST_F(NamesTest, test_export_name_composite_no_attrs) {
  Name canon_name = target_name().canonicalize(MechType::kerberos());
  std::string exported = canon_name.export_name(/*composite=*/true);
  // gssgate: a name without attributes is exported as MIT makes it (RFC 6680 §7.8: 04 02, then
  // an empty attribute section), not sealed: there is nothing to protect, and programs that
  // parse the token themselves (MIT's mechglue through the interposer) must be able to.
  EXPECT_EQ(exported.substr(0, 2), std::string("\x04\x02", 2));
  EXPECT_EQ(exported.substr(exported.size() - 4), std::string(4, '\0'));
  EXPECT_EQ(Name::from_token(exported, /*composite=*/true, conn_), canon_name);
  // A non-MN cannot be exported, composite or not.
  EXPECT_THROW(target_name().export_name(true), GSSError);
}

TEST_F(NamesTest, test_export_name_composite_with_attrs) {
  auto [client, server] = completed_contexts();
  Name initiator = server.initiator_name();
  std::string composite = initiator.export_name(/*composite=*/true);
  std::string plain = initiator.export_name();
  EXPECT_EQ(composite.substr(0, 4), "GGS1");
  EXPECT_GT(composite.size(), plain.size() + 100);  // the PAC rides along
}

// Issue 18: attribute keys are text in the name encoding, as python encodes str keys with
// it (key.encode(_utils._get_encoding())); listed keys come back as text operator[] takes.
TEST_F(NamesTest, AttributeKeysAreConvertedToTheNameEncodingAsPythonDoes) {
  auto [client, server] = completed_contexts();
  Name initiator = server.initiator_name();
  set_encoding("latin-1");
  struct Reset {
    ~Reset() { set_encoding("utf-8"); }  // also when an assertion fails
  } reset;
  std::vector<std::string> keys = initiator.attributes().keys();
  ASSERT_THAT(keys, Contains("urn:mspac:client-info"));
  EXPECT_TRUE(initiator.attributes()["urn:mspac:client-info"].authenticated);
  EXPECT_TRUE(initiator.attributes().contains("urn:mspac:client-info"));
  // "€" has no Latin-1 byte: the key cannot be encoded, as python's str.encode raises, and
  // nothing is sent.
  const std::string euro_key = "urn:\xe2\x82\xac";
  EXPECT_THROW(initiator.attributes()[euro_key], std::invalid_argument);
  set_encoding("utf-8");
  // In UTF-8 the same key reaches the daemon, whose name has no such attribute.
  EXPECT_THROW(initiator.attributes()[euro_key], GSSError);
}

TEST_F(NamesTest, test_basic_get_set_del_name_attribute_no_auth) {
  auto [client, server] = completed_contexts();
  Name canon_name = server.initiator_name();
  std::vector<std::string> keys = canon_name.attributes().keys();
  EXPECT_THAT(keys, Contains("urn:mspac:"));
  EXPECT_THAT(keys, Contains("urn:mspac:client-info"));
  EXPECT_EQ(canon_name.attributes().size(), keys.size());
  EXPECT_TRUE(canon_name.attributes().contains("urn:mspac:client-info"));
  EXPECT_FALSE(canon_name.attributes().contains("urn:greet:greeting"));
  std::vector<std::string> iterated;
  for (const std::string& key : canon_name.attributes()) iterated.push_back(key);
  EXPECT_EQ(iterated, keys);
  GetNameAttributeResult info = canon_name.attributes()["urn:mspac:client-info"];
  EXPECT_EQ(info.values.size(), 1u);
  EXPECT_TRUE(info.authenticated);
  EXPECT_TRUE(info.complete);

  // MIT 1.20 without an authdata plugin that takes them: set and delete are unavailable, and the
  // name is unchanged afterwards (python raises the same error here).
  EXPECT_THROW(
      canon_name.attributes().set("urn:greet:greeting", std::set<std::string>{"some val"}, true),
      OperationUnavailableError);
  EXPECT_THROW(canon_name.attributes().erase("urn:mspac:client-info"), OperationUnavailableError);
  EXPECT_THROW(canon_name.attributes()["urn:greet:greeting"], OperationUnavailableError);
  EXPECT_EQ(canon_name.attributes().keys(), keys);
  EXPECT_EQ(canon_name.attributes()["urn:mspac:client-info"].values, info.values);
}

// gssgate (issue #14, item 2): no urn:mspac: attribute is set or deleted, whatever the bytes. MIT
// would hand them to krb5_pac_parse inside the daemon (before the fix, the PAC's own bytes set
// back were parsed and taken). The error is python's class for an attribute MIT cannot change,
// with a text that says why; the name keeps its KDC-signed PAC.
TEST_F(NamesTest, gssgate_pac_attributes_are_never_set_from_caller_bytes) {
  auto [client, server] = completed_contexts();
  Name name = server.initiator_name();
  GetNameAttributeResult pac = name.attributes()["urn:mspac:"];
  ASSERT_EQ(pac.values.size(), 1u);
  const std::string pac_bytes = *pac.values.begin();
  for (const char* attribute : {"urn:mspac:", "urn:mspac:client-info", "URN:MSPAC:"}) {
    for (const std::string& value : {pac_bytes, std::string("\x04\x00\x00\x00garbage", 11)}) {
      try {
        name.attributes().set(attribute, std::set<std::string>{value}, true);
        ADD_FAILURE() << attribute << " was set";
      } catch (const OperationUnavailableError& e) {
        EXPECT_THAT(e.what(), HasSubstr("gssgated does not set or delete urn:mspac: attributes"));
      }
    }
    try {
      name.attributes().erase(attribute);
      ADD_FAILURE() << attribute << " was deleted";
    } catch (const OperationUnavailableError& e) {
      EXPECT_THAT(e.what(), HasSubstr("gssgated does not set or delete urn:mspac: attributes"));
    }
  }
  GetNameAttributeResult after = name.attributes()["urn:mspac:"];
  EXPECT_EQ(after.values, pac.values);
  EXPECT_TRUE(after.authenticated);
}

// ---- SecurityContextTestCase ----------------------------------------------------------------

class SecurityContextTest : public HighLevelTest {};

TEST_F(SecurityContextTest, test_create_from_other) {
  auto [client, server] = completed_contexts();
  SecurityContext high_level_ctx(std::move(client));  // python wraps a raw context
  EXPECT_TRUE(high_level_ctx.target_name() == target_name());
}

struct InitPerm {
  bool lifetime, flags, mech, channel_bindings;
};
class CreateNewInitTest : public HighLevelTest, public ::testing::WithParamInterface<InitPerm> {};

TEST_P(CreateNewInitTest, test_create_new_init) {
  SecurityContextOptions o;
  if (GetParam().lifetime) o.lifetime = 30;
  if (GetParam().flags) o.flags = RequirementFlagSet{};
  if (GetParam().mech) o.mech = MechType::kerberos();
  if (GetParam().channel_bindings) o.channel_bindings = std::nullopt;  // python passes None
  SecurityContextOptions with_creds = o;
  with_creds.name = target_name();
  with_creds.creds = Credentials({.usage = "initiate", .connection = conn_});
  with_creds.connection = conn_;
  SecurityContext client_ctx1(std::move(with_creds));
  EXPECT_EQ(client_ctx1.usage(), "initiate");
  SecurityContext client_ctx2 = client_ctx(o);
  EXPECT_EQ(client_ctx2.usage(), "initiate");
  // And it starts: the options reach the daemon as given.
  EXPECT_TRUE(client_ctx2.step().has_value());
}

std::vector<InitPerm> init_perms() {
  std::vector<InitPerm> out;
  for (int b = 0; b < 16; ++b) out.push_back({bool(b & 1), bool(b & 2), bool(b & 4), bool(b & 8)});
  return out;
}
std::string init_perm_name(const ::testing::TestParamInfo<InitPerm>& param) {
  const InitPerm& p = param.param;
  std::string out = "with_params";
  if (p.lifetime) out += "_lifetime";
  if (p.flags) out += "_flags";
  if (p.mech) out += "_mech";
  if (p.channel_bindings) out += "_channel_bindings";
  return out == "with_params" ? out + "_none" : out;
}
INSTANTIATE_TEST_SUITE_P(Perms, CreateNewInitTest, ::testing::ValuesIn(init_perms()),
                         init_perm_name);

TEST_F(SecurityContextTest, test_create_new_accept) {
  SecurityContext server = server_ctx();
  EXPECT_EQ(server.usage(), "accept");
}

TEST_F(SecurityContextTest, test_init_throws_error_on_invalid_args) {
  // python: TypeError for usage='accept' with a name.
  EXPECT_THROW(SecurityContext({.name = target_name(), .usage = "accept", .connection = conn_}),
               std::invalid_argument);
}

TEST_F(SecurityContextTest, test_complete_on_partially_completed) {
  SecurityContext client = client_ctx();
  std::optional<std::string> client_tok = client.step();
  EXPECT_FALSE(client.complete());
  SecurityContext server = server_ctx();
  std::optional<std::string> server_tok = server.step(client_tok.value());
  client.step(server_tok.value());
  EXPECT_TRUE(client.complete());
  EXPECT_TRUE(server.complete());
}

TEST_F(SecurityContextTest, test_initiate_accept_steps) {
  auto [client, server] = completed_contexts();
  // The KDC may allow for clock skew by lengthening the acceptor's lifetime.
  ASSERT_TRUE(server.lifetime().has_value());
  EXPECT_LE(*server.lifetime(), 400u + 300u);
  EXPECT_TRUE(server.initiator_name() == client.initiator_name());
  EXPECT_FALSE(server.mech().empty());
  EXPECT_TRUE(server.actual_flags().contains(RequirementFlag::mutual_authentication));
  EXPECT_FALSE(server.locally_initiated());
  EXPECT_TRUE(server.complete());

  ASSERT_TRUE(client.lifetime().has_value());
  EXPECT_LE(*client.lifetime(), 400u);
  EXPECT_TRUE(client.target_name() == target_name());
  EXPECT_EQ(client.mech(), MechType::kerberos());
  EXPECT_TRUE(client.actual_flags().contains(RequirementFlag::out_of_sequence_detection));
  EXPECT_TRUE(client.locally_initiated());
  EXPECT_TRUE(client.complete());
}

ChannelBindings python_bindings() {
  return ChannelBindings{.initiator_address_type = AddressType::ip,
                         .initiator_address = "127.0.0.1",
                         .acceptor_address_type = AddressType::ip,
                         .acceptor_address = "127.0.0.1",
                         .application_data = "abcxyz"};
}

TEST_F(SecurityContextTest, test_channel_bindings) {
  SecurityContext client = client_ctx({.lifetime = 400, .channel_bindings = python_bindings()});
  std::optional<std::string> client_token = client.step();
  ASSERT_TRUE(client_token.has_value());
  SecurityContext server = server_ctx(python_bindings());
  std::optional<std::string> server_token = server.step(*client_token);
  ASSERT_TRUE(server_token.has_value());
  client.step(*server_token);
  EXPECT_TRUE(client.complete());
}

TEST_F(SecurityContextTest, test_bad_channel_bindings_raises_error) {
  SecurityContext client = client_ctx({.lifetime = 400, .channel_bindings = python_bindings()});
  std::optional<std::string> client_token = client.step();
  ASSERT_TRUE(client_token.has_value());
  ChannelBindings bdgs = python_bindings();
  bdgs.acceptor_address = "127.0.1.0";
  SecurityContext server = server_ctx(bdgs);
  EXPECT_THROW(server.step(*client_token), BadChannelBindingsError);
}

TEST_F(SecurityContextTest, test_export_create_from_token) {
  auto [client, server] = completed_contexts();
  std::string token = client.export_context();
  EXPECT_FALSE(token.empty());
  SecurityContext imported_ctx = SecurityContext::from_token(token, conn_);
  EXPECT_EQ(imported_ctx.usage(), "initiate");
  EXPECT_TRUE(imported_ctx.target_name() == target_name());
}

TEST_F(SecurityContextTest, test_pickle_unpickle) {
  // python pickles a context through export()/SecurityContext(token=…).
  auto [client, server] = completed_contexts();
  std::string pickled = client.export_context();
  SecurityContext unpickled = SecurityContext::from_token(pickled, conn_);
  EXPECT_EQ(unpickled.usage(), "initiate");
  EXPECT_TRUE(unpickled.target_name() == target_name());
}

TEST_F(SecurityContextTest, test_encrypt_decrypt) {
  auto [client, server] = completed_contexts();
  std::string encrypted = client.encrypt("test message");
  EXPECT_NE(encrypted, "test message");
  EXPECT_EQ(server.decrypt(encrypted), "test message");
}

TEST_F(SecurityContextTest, test_encrypt_decrypt_throws_error_on_no_encryption) {
  auto [client, server] = completed_contexts();
  WrapResult wrap_res = client.wrap("test message", false);
  EXPECT_FALSE(wrap_res.encrypted);
  EXPECT_FALSE(wrap_res.message.empty());
  try {
    server.decrypt(wrap_res.message);
    FAIL() << "decrypt of an unencrypted token must raise EncryptionNotUsed";
  } catch (const EncryptionNotUsed& e) {
    EXPECT_EQ(e.unwrapped_message(), "test message");
  }
}

TEST_F(SecurityContextTest, test_wrap_unwrap) {
  auto [client, server] = completed_contexts();
  WrapResult wrap_res = client.wrap("test message", true);
  EXPECT_TRUE(wrap_res.encrypted);
  UnwrapResult unwrap_res = server.unwrap(wrap_res.message);
  EXPECT_EQ(unwrap_res.message, "test message");
  EXPECT_TRUE(unwrap_res.encrypted);
}

TEST_F(SecurityContextTest, test_get_wrap_size_limit) {
  auto [client, server] = completed_contexts();
  uint32_t with_conf = client.get_wrap_size_limit(100);
  uint32_t without_conf = client.get_wrap_size_limit(100, /*encrypted=*/false);
  EXPECT_LE(with_conf, 100u);
  EXPECT_LE(without_conf, 100u);
  EXPECT_GT(with_conf, 0u);
  // Beyond python (which passes encrypted=True twice): integrity-only tokens carry no
  // confounder or padding, so more of the 100 bytes is payload.
  EXPECT_GT(without_conf, with_conf);
}

TEST_F(SecurityContextTest, test_get_signature) {
  auto [client, server] = completed_contexts();
  std::string mic_token = client.get_signature("some message");
  EXPECT_GT(mic_token.size(), 0u);
}

TEST_F(SecurityContextTest, test_verify_signature_raise) {
  auto [client, server] = completed_contexts();
  std::string mic_token = client.get_signature("some message");
  server.verify_signature("some message", mic_token);
  EXPECT_THROW(server.verify_signature("other message", mic_token), GSSError);
}

// Issue 18: where the C++ mirror used to differ from python-gssapi (its behaviour measured on
// Debian 12's python3-gssapi 1.8.2 over MIT 1.20.1, recorded in docs/client.md).

// python: verify_signature returns rmessage.verify_mic(...), the QoP (an int).
TEST_F(SecurityContextTest, VerifySignatureReturnsTheQopAsPythonDoes) {
  auto [client, server] = completed_contexts();
  const uint32_t qop = server.verify_signature("some message", client.get_signature("some message"));
  EXPECT_EQ(qop, 0u);  // GSS_C_QOP_DEFAULT, what MIT's krb5 signs with
}

// python's decrypt raises only when `not res.encrypted and self.actual_flags &
// RequirementFlag.confidentiality`; otherwise it returns the message, encrypted or not.
TEST_F(SecurityContextTest, DecryptRaisesOnlyWhereTheContextPromisedConfidentiality) {
  auto [client, server] = completed_contexts();
  const std::string plain = client.wrap("integrity only", false).message;
  if (server.actual_flags().contains(RequirementFlag::confidentiality)) {
    try {
      server.decrypt(plain);
      FAIL() << "a confidential context must refuse an unencrypted token";
    } catch (const EncryptionNotUsed& e) {
      EXPECT_THAT(e.what(), HasSubstr("The context was established with encryption, but "
                                      "unwrapped message was not encrypted"));
      EXPECT_EQ(e.unwrapped_message(), "integrity only");
    }
  } else {
    EXPECT_EQ(server.decrypt(plain), "integrity only");
  }
  // An encrypted token is returned either way.
  EXPECT_EQ(server.decrypt(client.encrypt("sealed")), "sealed");
}

// python: a SecurityContext(token=…) has no _target_name/_creds, so step() raises AttributeError
// before any GSSAPI call. Here: std::logic_error, nothing sent (the old code dereferenced an
// empty target). The imported context still works for everything else.
TEST_F(SecurityContextTest, AContextFromATokenIsCompleteAndCannotBeStepped) {
  auto [client, server] = completed_contexts();
  SecurityContext initiator = SecurityContext::from_token(client.export_context(), conn_);
  SecurityContext acceptor = SecurityContext::from_token(server.export_context(), conn_);
  EXPECT_TRUE(initiator.complete());
  EXPECT_EQ(initiator.usage(), "initiate");
  EXPECT_EQ(acceptor.usage(), "accept");
  const uint64_t calls = conn_->calls();
  EXPECT_THROW(initiator.step(), std::logic_error);
  EXPECT_THROW(initiator.step("x"), std::logic_error);
  EXPECT_THROW(acceptor.step("x"), std::logic_error);
  EXPECT_EQ(conn_->calls(), calls) << "a refused step reached the daemon";
  EXPECT_EQ(acceptor.decrypt(initiator.encrypt("still usable")), "still usable");
}

TEST_F(SecurityContextTest, test_defer_step_error_on_method) {
  SecurityContext::set_default_defer_step_errors(true);
  ChannelBindings bdgs{.application_data = "abcxyz"};
  SecurityContext client = client_ctx({.lifetime = 400, .channel_bindings = bdgs});
  std::optional<std::string> client_token = client.step();
  ASSERT_TRUE(client_token.has_value());
  bdgs.application_data = "defuvw";
  SecurityContext server = server_ctx(bdgs);
  EXPECT_TRUE(server.step(*client_token).has_value());  // the error token, for the peer
  EXPECT_THROW(server.encrypt("test"), BadChannelBindingsError);
}

TEST_F(SecurityContextTest, test_defer_step_error_on_complete_property_access) {
  SecurityContext::set_default_defer_step_errors(true);
  ChannelBindings bdgs{.application_data = "abcxyz"};
  SecurityContext client = client_ctx({.lifetime = 400, .channel_bindings = bdgs});
  std::optional<std::string> client_token = client.step();
  ASSERT_TRUE(client_token.has_value());
  bdgs.application_data = "defuvw";
  SecurityContext server = server_ctx(bdgs);
  EXPECT_TRUE(server.step(*client_token).has_value());
  EXPECT_THROW(server.complete(), BadChannelBindingsError);
}

}  // namespace
}  // namespace gssgate::testing
