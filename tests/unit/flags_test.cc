#include "lib/gss/flags.h"

#include "gtest/gtest.h"

namespace gssgate::gss {
namespace {

TEST(FlagsTest, DefaultInitFlagsAreMutualAndOutOfSequence) {
  EXPECT_EQ(kDefaultInitFlags.bits(), GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG);
}

TEST(FlagsTest, SetOperations) {
  Flags f = Flag::kMutual | Flag::kReplay;
  EXPECT_TRUE(f.contains(Flag::kMutual));
  EXPECT_TRUE(f.contains(Flag::kMutual | Flag::kReplay));
  EXPECT_FALSE(f.contains(Flag::kDelegate));
  EXPECT_FALSE(f.contains(Flag::kMutual | Flag::kDelegate));
  EXPECT_EQ((f - Flag::kReplay), Flags(Flag::kMutual));
  EXPECT_EQ((f & Flag::kReplay), Flags(Flag::kReplay));
  f |= Flag::kConfidentiality;
  EXPECT_EQ(f.bits(), GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_CONF_FLAG);
  EXPECT_TRUE(Flags().empty());
}

TEST(FlagsTest, ToStringNamesKnownBitsAndKeepsUnknownOnes) {
  EXPECT_EQ((Flag::kMutual | Flag::kSequence).to_string(), "mutual|sequence");
  EXPECT_EQ(Flags().to_string(), "none");
  EXPECT_EQ(Flags::from_bits(GSS_C_DELEG_FLAG | 0x100000).to_string(), "delegate|0x100000");
}

}  // namespace
}  // namespace gssgate::gss
