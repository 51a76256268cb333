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

}  // namespace
}  // namespace gssgate::gss
