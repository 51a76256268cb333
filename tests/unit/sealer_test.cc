#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/gss/krb5.h"

namespace gssgate::gss {
namespace {

using ::testing::HasSubstr;

TEST(SealerTest, RoundTripsAndRefusesAlteredOrForeignTokens) {
  auto a = Sealer::create();
  auto b = Sealer::create();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string secret = std::string("credential bytes \0\1 with keys", 29);
  absl::StatusOr<std::string> token = (*a)->seal(secret, "uid=1000");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->substr(0, 4), "GGS1");
  EXPECT_EQ(token->find("credential bytes"), std::string::npos);
  EXPECT_EQ(token->find("uid=1000"), std::string::npos) << "the binding is sealed too";
  auto opened = (*a)->open(*token, "uid=1000");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, secret);
  EXPECT_NE(*(*a)->seal(secret, "uid=1000"), *token) << "a fresh confounder every time";

  std::string altered = *token;
  altered.back() ^= 1;
  EXPECT_EQ((*a)->open(altered, "uid=1000").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE((*b)->open(*token, "uid=1000").ok()) << "another key (another daemon)";
  EXPECT_THAT(std::string((*a)->open("junk", "uid=1000").status().message()),
              HasSubstr("not a gssgate credential token"));
  EXPECT_FALSE((*a)->open("GGS1", "uid=1000").ok());
}

TEST(SealerTest, ATokenOpensOnlyWithTheBindingItWasSealedFor) {
  auto sealer = Sealer::create();
  ASSERT_TRUE(sealer.ok());
  absl::StatusOr<std::string> token = (*sealer)->seal("keys", "uid=1000");
  ASSERT_TRUE(token.ok()) << token.status();
  for (const char* other : {"uid=1001", "uid=100", "uid=10000", ""}) {
    absl::StatusOr<std::string> opened = (*sealer)->open(*token, other);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument) << other;
    EXPECT_THAT(std::string(opened.status().message()), HasSubstr("exported by another caller"))
        << other;
  }
  // An empty binding and an empty payload are both fine.
  absl::StatusOr<std::string> empty = (*sealer)->seal("", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*(*sealer)->open(*empty, ""), "");
}

TEST(SealerTest, MacsDependOnTheKeyAndEveryByte) {
  auto a = Sealer::create();
  auto b = Sealer::create();
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<std::string> mac = (*a)->mac("exported context bytes");
  ASSERT_TRUE(mac.ok()) << mac.status();
  EXPECT_EQ(mac->size(), 24u) << "HMAC-SHA384-192";
  EXPECT_EQ(*(*a)->mac("exported context bytes"), *mac) << "deterministic";
  EXPECT_NE(*(*a)->mac("exported context byteS"), *mac);
  EXPECT_NE(*(*b)->mac("exported context bytes"), *mac) << "another daemon's key";
}

}  // namespace
}  // namespace gssgate::gss
