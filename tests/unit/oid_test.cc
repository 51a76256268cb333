#include "lib/gss/oid.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

#include <unordered_set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "lib/gss/context.h"

namespace gssgate::gss {
namespace {

TEST(OidTest, DottedRoundTripsThroughDer) {
  auto oid = Oid::from_dotted("1.2.840.113554.1.2.2");
  ASSERT_TRUE(oid.ok()) << oid.status();
  // RFC 1964 §1: the krb5 mechanism OID's DER contents.
  EXPECT_EQ(oid->der(), std::string("\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 9));
  EXPECT_EQ(oid->dotted(), "1.2.840.113554.1.2.2");
}

TEST(OidTest, LargeArcsAndSecondArcAboveFortyUnderJointIsoItuT) {
  auto oid = Oid::from_dotted("2.999.18446744073709551615");
  ASSERT_TRUE(oid.ok()) << oid.status();
  EXPECT_EQ(oid->dotted(), "2.999.18446744073709551615");
  auto back = Oid::from_der(oid->der());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *oid);
}

TEST(OidTest, RejectsMalformedDottedText) {
  for (const char* bad : {"", "1", "1.", ".1.2", "1..2", "3.1", "1.40", "1.2.x", "1.-2", "1.+2",
                          "1.2.99999999999999999999999"}) {
    auto oid = Oid::from_dotted(bad);
    EXPECT_FALSE(oid.ok()) << "accepted \"" << bad << "\"";
    if (!oid.ok()) {
      EXPECT_EQ(oid.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(OidTest, RejectsMalformedDer) {
  // Empty, a dangling continuation bit, and a non-minimal (0x80-led) sub-identifier.
  for (std::string bad :
       {std::string(), std::string("\x2a\x86", 2), std::string("\x2a\x80\x01", 3)}) {
    EXPECT_FALSE(Oid::from_der(bad).ok()) << "accepted " << bad.size() << " bytes";
  }
}

TEST(OidTest, WellKnownOidsMatchMitExports) {
  EXPECT_EQ(oids::krb5(), Oid::from_gss(gss_mech_krb5));
  EXPECT_EQ(oids::iakerb(), Oid::from_gss(gss_mech_iakerb));
  EXPECT_EQ(oids::nt_hostbased_service(), Oid::from_gss(GSS_C_NT_HOSTBASED_SERVICE));
  EXPECT_EQ(oids::nt_user_name(), Oid::from_gss(GSS_C_NT_USER_NAME));
  EXPECT_EQ(oids::nt_machine_uid_name(), Oid::from_gss(GSS_C_NT_MACHINE_UID_NAME));
  EXPECT_EQ(oids::nt_string_uid_name(), Oid::from_gss(GSS_C_NT_STRING_UID_NAME));
  EXPECT_EQ(oids::nt_krb5_principal_name(), Oid::from_gss(GSS_KRB5_NT_PRINCIPAL_NAME));
  EXPECT_EQ(oids::nt_export_name(), Oid::from_gss(GSS_C_NT_EXPORT_NAME));
  EXPECT_EQ(oids::nt_anonymous(), Oid::from_gss(GSS_C_NT_ANONYMOUS));
  EXPECT_EQ(oids::nt_composite_export().dotted(), "1.3.6.1.5.6.6");
  EXPECT_EQ(oids::spnego().dotted(), "1.3.6.1.5.5.2");
}

TEST(OidTest, DescPointsAtTheSameBytes) {
  gss_OID_desc desc = oids::krb5().desc();
  EXPECT_EQ(desc.length, gss_mech_krb5->length);
  EXPECT_EQ(std::string(static_cast<char*>(desc.elements), desc.length),
            std::string(static_cast<char*>(gss_mech_krb5->elements), gss_mech_krb5->length));
  EXPECT_TRUE(Oid::from_gss(GSS_C_NO_OID).empty());
}

TEST(OidTest, HashesAndComparesByValue) {
  absl::flat_hash_set<Oid> absl_set = {oids::krb5(), oids::spnego(), oids::krb5()};
  std::unordered_set<Oid> std_set = {oids::krb5(), oids::spnego(), oids::krb5()};
  EXPECT_EQ(absl_set.size(), 2u);
  EXPECT_EQ(std_set.size(), 2u);
  EXPECT_TRUE(absl_set.contains(*Oid::from_dotted("1.3.6.1.5.5.2")));
  EXPECT_NE(oids::krb5(), oids::spnego());
}

}  // namespace
}  // namespace gssgate::gss

namespace gssgate::gss {
namespace {

// The mechanism MIT's mechglue picks for an acceptor's first token (gssint_get_mech_type).
TEST(InitialTokenMechTest, FollowsMitsRulesForFramedAndRawTokens) {
  const std::string krb5_der = oids::krb5().der();
  // [APPLICATION 0] { OID krb5, token-id 01 00, ... } with a short and a long-form length.
  std::string framed = std::string("\x60\x0f\x06\x09", 4) + krb5_der + std::string("\x01\x00\xaa\xbb", 4);
  EXPECT_EQ(initial_token_mech(framed).value(), oids::krb5());
  std::string long_form = std::string("\x60\x81\x0f\x06\x09", 5) + krb5_der +
                          std::string("\x01\x00\xaa\xbb", 4);
  EXPECT_EQ(initial_token_mech(long_form).value(), oids::krb5());
  std::string ms = std::string("\x60\x0f\x06\x09", 4) + oids::krb5_ms().der() + std::string("\x01\x00xy", 4);
  EXPECT_EQ(initial_token_mech(ms).value(), oids::krb5_ms());
  EXPECT_EQ(initial_token_mech(std::string("NTLMSSP\0\x01\0\0\0", 12)).value(), oids::ntlm());
  EXPECT_EQ(initial_token_mech("\x6e\x82\x01\x00").value(), oids::krb5());  // a raw AP-REQ
  EXPECT_EQ(initial_token_mech("").value(), oids::spnego());
  // No header, a truncated one, an OID longer than the frame: MIT refuses these itself.
  for (const std::string& bad :
       {std::string("definitely not a token"), std::string("\x60", 1), std::string("\x60\x05\x06", 3),
        std::string("\x60\x04\x06\x09\x2a\x86", 6), std::string("\x60\x85\x01\x02\x03\x04\x05", 7),
        std::string("\x60\x02\x05\x00", 4)}) {
    EXPECT_FALSE(initial_token_mech(bad).ok()) << absl::BytesToHexString(bad);
  }
}

}  // namespace
}  // namespace gssgate::gss
