#include "lib/gss/status.h"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gssgate::gss {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(StatusTest, CompleteIsOkWithoutText) {
  GssStatus s = check("gss_wrap", GSS_S_COMPLETE, 0);
  EXPECT_TRUE(s.ok());
  EXPECT_THAT(s.major_text, IsEmpty());
  EXPECT_THAT(s.minor_text, IsEmpty());
  EXPECT_TRUE(s.to_absl().ok());
}

TEST(StatusTest, ContinueNeededIsNotAnError) {
  GssStatus s = check("gss_init_sec_context", GSS_S_CONTINUE_NEEDED, 0);
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE(s.continue_needed());
}

TEST(StatusTest, RendersRoutineErrorText) {
  GssStatus s = check("gss_verify_mic", GSS_S_BAD_SIG, 0, gss_mech_krb5);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.routine_error(), GSS_S_BAD_SIG);
  EXPECT_THAT(s.major_text, ElementsAre("A token had an invalid Message Integrity Check (MIC)"));
  EXPECT_EQ(s.mech, Oid::from_gss(gss_mech_krb5));
  EXPECT_EQ(s.message(),
            "gss_verify_mic: Major (393216): A token had an invalid Message Integrity Check (MIC), "
            "Minor (0): Unknown error");
  EXPECT_EQ(s.to_absl().code(), absl::StatusCode::kInvalidArgument);
}

// Minor codes can only be rendered after a mechanism returned them (the mechglue maps each one to
// its mechanism), so this takes a real failure: a keytab that does not exist. No KDC is involved.
TEST(StatusTest, RendersTheMechanismsMinorTextOfARealFailure) {
  gss_key_value_element_desc element{"keytab", "/nonexistent/gssgate-unit.keytab"};
  gss_key_value_set_desc store{1, &element};
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
  OM_uint32 minor = 0;
  OM_uint32 major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
                                          GSS_C_ACCEPT, &store, &cred, nullptr, nullptr);
  GssStatus s = check("gss_acquire_cred_from", major, minor);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.minor, 0u);
  ASSERT_EQ(s.minor_text.size(), 1u);
  EXPECT_EQ(s.minor_text[0],
            "Keytab FILE:/nonexistent/gssgate-unit.keytab is nonexistent or empty");
  EXPECT_THAT(s.message(), HasSubstr("Minor (" + std::to_string(minor) + "): Keytab FILE:"));
}

TEST(StatusTest, SupplementaryBitsAreRenderedButNotErrors) {
  GssStatus s = check("gss_unwrap", GSS_S_DUPLICATE_TOKEN, 0);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.supplementary(), GSS_S_DUPLICATE_TOKEN);
  EXPECT_THAT(s.major_text, ElementsAre(HasSubstr("duplicate")));
}

TEST(StatusTest, CallingErrorMapsToInvalidArgument) {
  GssStatus s = check("gss_wrap", GSS_S_CALL_INACCESSIBLE_READ, 0);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.calling_error(), GSS_S_CALL_INACCESSIBLE_READ);
  EXPECT_EQ(s.to_absl().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(s.major_text.empty());
}

TEST(StatusTest, NoCredMapsToFailedPrecondition) {
  EXPECT_EQ(check("gss_acquire_cred_from", GSS_S_NO_CRED, 0).to_absl().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(StatusTest, DisplayLoopIsCapped) {
  // Every supplementary bit plus a routine and a calling error: several display rounds, but never
  // more than the cap.
  OM_uint32 all = GSS_S_CALL_BAD_STRUCTURE | GSS_S_FAILURE | GSS_S_CONTINUE_NEEDED |
                  GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN | GSS_S_UNSEQ_TOKEN | GSS_S_GAP_TOKEN;
  std::vector<std::string> lines = display_status(all, GSS_C_GSS_CODE, GSS_C_NO_OID);
  EXPECT_GE(lines.size(), 2u);
  EXPECT_LE(lines.size(), 8u);
}

}  // namespace
}  // namespace gssgate::gss
