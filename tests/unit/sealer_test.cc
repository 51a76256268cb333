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
  std::string token = (*a)->seal(secret);
  EXPECT_EQ(token.substr(0, 4), "GGS1");
  EXPECT_EQ(token.find("credential bytes"), std::string::npos);
  auto opened = (*a)->open(token);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, secret);
  EXPECT_NE((*a)->seal(secret), token) << "a fresh confounder every time";

  std::string altered = token;
  altered.back() ^= 1;
  EXPECT_EQ((*a)->open(altered).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE((*b)->open(token).ok()) << "another key (another daemon)";
  EXPECT_THAT(std::string((*a)->open("junk").status().message()),
              HasSubstr("not a gssgate credential token"));
  EXPECT_FALSE((*a)->open("GGS1").ok());
}

}  // namespace
}  // namespace gssgate::gss
