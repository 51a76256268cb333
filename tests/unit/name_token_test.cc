#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/gss/name.h"
#include "lib/gss/oid.h"

namespace gssgate::gss {
namespace {

using ::testing::HasSubstr;

// An RFC 2743 §3.2 exported name of the krb5 mechanism.
std::string exported(const std::string& name, const std::string& trailer = "") {
  const std::string& oid = oids::krb5().der();
  std::string out("\x04\x01", 2);
  out += static_cast<char>(0);
  out += static_cast<char>(oid.size() + 2);
  out += '\x06';
  out += static_cast<char>(oid.size());
  out += oid;
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(name.size() >> shift);
  return out + name + trailer;
}

TEST(ExportedNameTokenTest, AcceptsExactlyTheRfc2743Layout) {
  EXPECT_EQ(check_exported_name_token(exported("alice@EXAMPLE.COM")), "");
  EXPECT_EQ(check_exported_name_token(exported("")), "") << "an empty name is well-formed";
}

TEST(ExportedNameTokenTest, SaysWhatIsWrongWithAMalformedOne) {
  const std::string good = exported("alice@EXAMPLE.COM");
  EXPECT_THAT(check_exported_name_token(""), HasSubstr("token id 04 01"));
  EXPECT_THAT(check_exported_name_token(std::string("\x04\x02", 2) + good.substr(2)),
              HasSubstr("token id 04 01"));
  EXPECT_THAT(check_exported_name_token(good.substr(0, 10)), HasSubstr("truncated"));
  EXPECT_THAT(check_exported_name_token(good.substr(0, good.size() - 1)),
              HasSubstr("name is truncated"));
  EXPECT_THAT(check_exported_name_token(exported("alice@EXAMPLE.COM", "x")),
              HasSubstr("bytes after the name"));
  EXPECT_THAT(check_exported_name_token(exported(std::string("alice\0x", 7))), HasSubstr("NUL"));
  std::string bad_tag = good;
  bad_tag[4] = '\x07';
  EXPECT_THAT(check_exported_name_token(bad_tag), HasSubstr("DER OID"));
  std::string huge = good;
  huge[2] = '\xff';  // an OID length far past the end
  EXPECT_THAT(check_exported_name_token(huge), HasSubstr("truncated"));
}

// The input fuzz_tokens found: a 04 01 token whose name runs into attribute-like bytes. MIT 1.20's
// gss_import_name failed an assert (abort) on it; the check refuses it first.
TEST(ExportedNameTokenTest, RefusesTheTokenThatAbortedMit) {
  const std::string found(
      "\x04\x01\x00\x0b\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x00\x00\x00\x12"
      "alice@GSSGA\x00\x02\x00\x00\x00\x05mspac\x00\x00\x00\x90\x04",
      45);
  EXPECT_THAT(check_exported_name_token(found), HasSubstr("bytes after the name"));
}

// The display form read from a token is what MIT's gss_display_name says for the same name, for
// names whose unparsed form needs quoting too; the anonymous principal is left to MIT.
TEST(Krb5DisplayFromTokenTest, MatchesMitsDisplayNameForPlainAndCompositeTokens) {
  for (const char* text :
       {"alice@EXAMPLE.COM", "HTTP/host.example.com@EXAMPLE.COM", "a\\/b/c@EXAMPLE.COM",
        "user\\@corp.example@EXAMPLE.COM", "sp ace\\\\tab@EXAMPLE.COM"}) {
    SCOPED_TRACE(text);
    NameHandle imported, mn;
    ASSERT_TRUE(import_name(text, oids::nt_krb5_principal_name(), &imported).ok());
    ASSERT_TRUE(canonicalize_name(imported, oids::krb5(), &mn).ok());
    DisplayedName mit;
    ASSERT_TRUE(display_name(mn, &mit).ok());
    std::string plain, composite;
    ASSERT_TRUE(export_name(mn, &plain).ok());
    ASSERT_TRUE(export_name_composite(mn, &composite).ok());
    for (const std::string& token : {plain, composite}) {
      std::optional<DisplayedName> read = krb5_display_from_token(token);
      ASSERT_TRUE(read.has_value());
      EXPECT_EQ(read->text, mit.text);
      EXPECT_EQ(read->type, mit.type);
    }
  }
  NameHandle anonymous, mn;
  ASSERT_TRUE(import_name("WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS", oids::nt_krb5_principal_name(),
                          &anonymous)
                  .ok());
  ASSERT_TRUE(canonicalize_name(anonymous, oids::krb5(), &mn).ok());
  std::string token;
  ASSERT_TRUE(export_name(mn, &token).ok());
  EXPECT_FALSE(krb5_display_from_token(token).has_value()) << "MIT decides its display type";
}

TEST(Krb5DisplayFromTokenTest, ReadsNothingFromAnotherMechanismOrAMalformedToken) {
  const std::string good = exported("alice@EXAMPLE.COM");
  ASSERT_TRUE(krb5_display_from_token(good).has_value());
  std::string other_mech = good;
  other_mech[14] = '\x03';  // the last byte of the OID: 1.2.840.113554.1.2.3
  EXPECT_FALSE(krb5_display_from_token(other_mech).has_value());
  EXPECT_FALSE(krb5_display_from_token(good.substr(0, good.size() - 1)).has_value());
  EXPECT_FALSE(krb5_display_from_token(exported("alice@EXAMPLE.COM", "x")).has_value())
      << "bytes after the name of a plain token";
  EXPECT_FALSE(krb5_display_from_token(exported(std::string("al\0ce", 5))).has_value());
  EXPECT_FALSE(krb5_display_from_token(good.substr(0, 5)).has_value());
  EXPECT_FALSE(krb5_display_from_token("").has_value());
  std::string bad_tag = good;
  bad_tag[4] = '\x07';
  EXPECT_FALSE(krb5_display_from_token(bad_tag).has_value());
  std::string huge = good;
  huge[15] = '\x7f';  // a name length far past the end
  EXPECT_FALSE(krb5_display_from_token(huge).has_value());

  std::string composite = good;
  composite[1] = '\x02';
  EXPECT_FALSE(krb5_display_from_token(composite).has_value())
      << "a composite token without its attribute length";
  EXPECT_FALSE(
      krb5_display_from_token(composite + std::string("\x00\x00\x00\x03xy", 6)).has_value())
      << "attribute data shorter than its length";
  EXPECT_FALSE(
      krb5_display_from_token(composite + std::string("\x00\x00\x00\x01xy", 6)).has_value())
      << "bytes after the attribute data";
  std::optional<DisplayedName> with_attributes =
      krb5_display_from_token(composite + std::string("\x00\x00\x00\x02xy", 6));
  ASSERT_TRUE(with_attributes.has_value());
  EXPECT_EQ(with_attributes->text, "alice@EXAMPLE.COM");
  std::optional<DisplayedName> empty = krb5_display_from_token(exported(""));
  ASSERT_TRUE(empty.has_value()) << "the token's text, even an empty one";
  EXPECT_EQ(empty->text, "");
}

}  // namespace
}  // namespace gssgate::gss
