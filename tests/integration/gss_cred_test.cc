// Names and credentials through lib/ against a real MIT KDC.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/gss/krb5.h"
#include "tests/integration/gss_test_util.h"

namespace gssgate::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

using CredTest = RealmTest;

TEST_F(CredTest, AcceptorCredentialsFromAnExplicitKeytab) {
  gss::AcquiredCred cred = acceptor_creds();
  ASSERT_TRUE(cred.cred);
  EXPECT_THAT(cred.mechs, Contains(gss::oids::krb5()));
  gss::CredInfo info;
  gss::GssStatus s = gss::inquire_cred(cred.cred, &info);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(info.usage, gss::CredUsage::kAccept);
  EXPECT_EQ(display(info.name), service_principal());
}

TEST_F(CredTest, InitiatorCredentialsFromAClientKeytabGetATgtFromTheKdc) {
  gss::AcquiredCred cred = initiator_creds_from_client_keytab();
  ASSERT_TRUE(cred.cred);
  gss::CredInfo info;
  gss::GssStatus s = gss::inquire_cred(cred.cred, &info);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(info.usage, gss::CredUsage::kInitiate);
  EXPECT_EQ(display(info.name), alice());
  EXPECT_THAT(info.mechs, Contains(gss::oids::krb5()));
}

TEST_F(CredTest, NamesImportDisplayCanonicalizeExportCompareDuplicate) {
  gss::NameHandle hostbased = service_name();
  gss::DisplayedName shown;
  ASSERT_TRUE(gss::display_name(hostbased, &shown).ok());
  EXPECT_EQ(shown.text, "HTTP@localhost");
  EXPECT_EQ(shown.type, gss::oids::nt_hostbased_service());

  gss::NameHandle mn;
  gss::GssStatus s = gss::canonicalize_name(hostbased, gss::oids::krb5(), &mn);
  ASSERT_TRUE(s.ok()) << describe(s);
  EXPECT_EQ(display(mn), service_principal());

  std::string exported;
  ASSERT_TRUE(gss::export_name(mn, &exported).ok());
  // RFC 2743 §3.2: 04 01, mech OID length, 06 len OID, name length, name.
  EXPECT_EQ(exported.substr(0, 2), std::string("\x04\x01", 2));
  EXPECT_THAT(exported, HasSubstr(service_principal()));
  gss::NameHandle reimported = name(exported, gss::oids::nt_export_name());
  bool equal = false;
  ASSERT_TRUE(gss::compare_names(reimported, mn, &equal).ok());
  EXPECT_TRUE(equal);

  gss::NameHandle copy;
  ASSERT_TRUE(gss::duplicate_name(mn, &copy).ok());
  EXPECT_EQ(display(copy), service_principal());

  gss::NameHandle user = name(alice(), gss::oids::nt_krb5_principal_name());
  ASSERT_TRUE(gss::compare_names(user, mn, &equal).ok());
  EXPECT_FALSE(equal);

  // An unexported (non-MN) name cannot be exported.
  s = gss::export_name(hostbased, &exported);
  EXPECT_EQ(s.routine_error(), GSS_S_NAME_NOT_MN) << describe(s);
}

TEST_F(CredTest, MalformedNamesAreRejected) {
  gss::NameHandle out;
  gss::GssStatus s = gss::import_name("\x04\x01garbage", gss::oids::nt_export_name(), &out);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.operation, "gss_import_name");
  auto bogus_type = gss::Oid::from_dotted("1.2.3.4.5.6.7");
  ASSERT_TRUE(bogus_type.ok());
  s = gss::import_name("alice", *bogus_type, &out);
  gss::NameHandle canon;
  // MIT accepts an unknown type at import and refuses it at canonicalization.
  if (s.ok()) s = gss::canonicalize_name(out, gss::oids::krb5(), &canon);
  EXPECT_EQ(s.routine_error(), GSS_S_BAD_NAMETYPE) << describe(s);
}

TEST_F(CredTest, Krb5LayerListsKeytabsAndCcachesAndNamesMissingFiles) {
  auto ctx = gss::Krb5Context::create();
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  auto entries = gss::list_keytab(*ctx, service_keytab_);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(*entries, Contains(Field(&gss::KeytabEntry::principal, service_principal())));
  for (const auto& e : *entries) EXPECT_EQ(e.kvno, 1u);
  EXPECT_EQ(entries->size(), 2u) << "one key per supported enctype (aes256, aes128)";

  ASSERT_TRUE(kdc_->randomize_key("HTTP/localhost").ok());
  std::string fresh = kdc_->path("fresh.keytab");
  ASSERT_TRUE(kdc_->export_keytab(fresh, {"HTTP/localhost"}).ok());
  entries = gss::list_keytab(*ctx, fresh);
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) EXPECT_EQ(e.kvno, 2u);

  auto missing = gss::list_keytab(*ctx, kdc_->path("missing.keytab"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("missing.keytab"));

  std::string ccache = "FILE:" + kdc_->path("kinit.ccache");
  ASSERT_TRUE(kdc_->kinit_with_keytab("alice", client_keytab_, ccache).ok());
  auto principal = gss::ccache_principal(*ctx, ccache);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(*principal, alice());
}

}  // namespace
}  // namespace gssgate::testing
