// libgssgate's value types and exception selection, without a daemon. The expected classes are
// python-gssapi's, as its GSSError picks them for each major status (checked against
// python3-gssapi 1.8 on Debian 12).

#include <typeinfo>

#include "gmock/gmock.h"
#include "gssgate/errors.h"
#include "gssgate/types.h"
#include "gtest/gtest.h"

namespace gssgate {
namespace {

using ::testing::ElementsAre;

std::string class_for(uint32_t major) {
  try {
    GSSError::raise(GSSError::Info{.major = major});
  } catch (const ContextReadError&) {
    return "ContextReadError";
  } catch (const ContextWriteError&) {
    return "ContextWriteError";
  } catch (const CredentialsReadError&) {
    return "CredentialsReadError";
  } catch (const CredentialsWriteError&) {
    return "CredentialsWriteError";
  } catch (const NameReadError&) {
    return "NameReadError";
  } catch (const NameTypeReadError&) {
    return "NameTypeReadError";
  } catch (const TokenReadError&) {
    return "TokenReadError";
  } catch (const ParameterReadError&) {
    return "ParameterReadError";
  } catch (const ParameterWriteError&) {
    return "ParameterWriteError";
  } catch (const MalformedParameterError&) {
    return "MalformedParameterError";
  } catch (const BadMICError&) {
    return "BadMICError";
  } catch (const MissingCredentialsError&) {
    return "MissingCredentialsError";
  } catch (const MissingContextError&) {
    return "MissingContextError";
  } catch (const InvalidTokenError&) {
    return "InvalidTokenError";
  } catch (const BadChannelBindingsError&) {
    return "BadChannelBindingsError";
  } catch (const MechanismNameRequiredError&) {
    return "MechanismNameRequiredError";
  } catch (const DuplicateTokenError&) {
    return "DuplicateTokenError";
  } catch (const ExpiredTokenError&) {
    return "ExpiredTokenError";
  } catch (const TokenTooLateError&) {
    return "TokenTooLateError";
  } catch (const TokenTooEarlyError&) {
    return "TokenTooEarlyError";
  } catch (const GSSError&) {
    return "GSSError";
  }
  return "nothing thrown";
}

TEST(ClientErrorsTest, SubclassChosenFromTheMajorStatusAsPythonDoes) {
  constexpr uint32_t kRead = 1u << 24, kWrite = 2u << 24, kStructure = 3u << 24;
  EXPECT_EQ(class_for(13u << 16), "GSSError") << "plain GSS_S_FAILURE has no subclass";
  EXPECT_EQ(class_for(6u << 16), "BadMICError");
  EXPECT_EQ(class_for(4u << 16), "BadChannelBindingsError");
  EXPECT_EQ(class_for(18u << 16), "MechanismNameRequiredError");
  EXPECT_EQ(class_for(kRead | (8u << 16)), "ContextReadError");
  EXPECT_EQ(class_for(kRead | (7u << 16)), "CredentialsReadError");
  EXPECT_EQ(class_for(kWrite | (8u << 16)), "ContextWriteError");
  EXPECT_EQ(class_for(kWrite | (7u << 16)), "CredentialsWriteError");
  EXPECT_EQ(class_for(kRead | (2u << 16)), "NameReadError");
  EXPECT_EQ(class_for(kRead | (3u << 16)), "NameTypeReadError");
  EXPECT_EQ(class_for(kRead | (9u << 16)), "TokenReadError");
  EXPECT_EQ(class_for(kRead), "ParameterReadError");
  EXPECT_EQ(class_for(kRead | (13u << 16)), "ParameterReadError");
  EXPECT_EQ(class_for(kRead | (6u << 16)), "ParameterReadError");
  EXPECT_EQ(class_for(kStructure | (7u << 16)), "MalformedParameterError");
  EXPECT_EQ(class_for(2), "DuplicateTokenError");
  EXPECT_EQ(class_for(4), "ExpiredTokenError");
  EXPECT_EQ(class_for(8), "TokenTooLateError");
  EXPECT_EQ(class_for(16), "TokenTooEarlyError");
  EXPECT_EQ(class_for(8 | 16), "GSSError") << "two supplementary bits: no single class";
  EXPECT_EQ(class_for((13u << 16) | 2), "DuplicateTokenError") << "FAILURE falls through";
  EXPECT_EQ(class_for((6u << 16) | 2), "BadMICError") << "a routine class wins";
  EXPECT_EQ(class_for((7u << 16) | 2), "MissingCredentialsError");
}

TEST(ClientErrorsTest, CombinedClassesAreCatchableThroughEveryParent) {
  GSSError::Info info{.major = (1u << 24) | (8u << 16)};
  EXPECT_THROW(GSSError::raise(info), ParameterReadError);
  EXPECT_THROW(GSSError::raise(info), MissingContextError);
  EXPECT_THROW(GSSError::raise(info), GSSError);
  EXPECT_THROW(GSSError::raise(GSSError::Info{.major = 8}), TokenOutOfSequenceError);
  EXPECT_THROW(GSSError::raise(GSSError::Info{.major = 8}), SupplementaryError);
}

TEST(ClientErrorsTest, MessagesHavePythonsShape) {
  GSSError e(GSSError::Info{.major = 393216,
                            .minor = 100001,
                            .major_text = {"A token had an invalid Message Integrity Check (MIC)"},
                            .minor_text = {"Message stream modified"},
                            .token = "tok"});
  EXPECT_STREQ(e.what(),
               "Major (393216): A token had an invalid Message Integrity Check (MIC), "
               "Minor (100001): Message stream modified");
  EXPECT_EQ(e.token(), "tok");
  EXPECT_EQ(e.maj_code(), 393216u);
  EXPECT_EQ(e.min_code(), 100001u);
  GSSError two(GSSError::Info{.major = 1, .major_text = {"first", "second"}});
  EXPECT_STREQ(two.what(), "Major (1): first -- second, Minor (0): Unknown error");
  EXPECT_STREQ(GeneralError("oops").what(), "General error: oops.");
  EXPECT_STREQ(UnknownUsageError("x", "security context").what(),
               "Unable to determine security context usage: x.");
  EncryptionNotUsed enc("not encrypted", "payload");
  EXPECT_EQ(enc.unwrapped_message(), "payload");
  EXPECT_STREQ(enc.what(), "Confidentiality was requested, but not used: not encrypted.");
}

// python: GSSError.get_all_statuses(code, is_maj) lists gss_display_status's lines; here for
// the error's own codes, as the daemon displayed them.
TEST(ClientErrorsTest, GetAllStatusesGivesEveryDisplayedLine) {
  GSSError e(GSSError::Info{.major = 7u << 16,
                            .minor = 5,
                            .major_text = {"No credentials were supplied"},
                            .minor_text = {"first line", "second line"}});
  EXPECT_THAT(e.get_all_statuses(true), ElementsAre("No credentials were supplied"));
  EXPECT_THAT(e.get_all_statuses(false), ElementsAre("first line", "second line"));
}

TEST(ClientTypesTest, OidsAndTheWellKnownConstants) {
  EXPECT_EQ(MechType::kerberos().dotted_form(), "1.2.840.113554.1.2.2");
  EXPECT_EQ(MechType::kerberos().bytes(), std::string("\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 9));
  EXPECT_EQ(NameType::hostbased_service().dotted_form(), "1.2.840.113554.1.2.1.4");
  EXPECT_EQ(NameType::kerberos_principal(), NameType::krb5_nt_principal_name());
  EXPECT_EQ(NameType::export_().dotted_form(), "1.3.6.1.5.6.4");
  EXPECT_EQ(OID::from_int_seq("1.3.6.1.5.5.2"), MechType::spnego());
  EXPECT_THROW(OID::from_int_seq("1.x"), std::invalid_argument);
  EXPECT_THROW(OID::from_der(std::string("\x2a\x86", 2)), std::invalid_argument);
  EXPECT_EQ(OID::from_der(MechType::kerberos().bytes()), MechType::kerberos());
}

TEST(ClientTypesTest, FlagSetsBehaveLikeIntEnumFlagSet) {
  RequirementFlagSet s{RequirementFlag::mutual_authentication,
                       RequirementFlag::out_of_sequence_detection};
  EXPECT_EQ(s.to_int(), 2u | 8u);
  EXPECT_TRUE(s.contains(RequirementFlag::mutual_authentication));
  EXPECT_FALSE(s.contains(RequirementFlag::delegate_to_peer));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_THAT(s.members(), ElementsAre(RequirementFlag::mutual_authentication,
                                       RequirementFlag::out_of_sequence_detection));
  s.add(RequirementFlag::confidentiality);
  s.discard(RequirementFlag::mutual_authentication);
  EXPECT_EQ(s.to_int(), 8u | 16u);
  RequirementFlagSet t{RequirementFlag::confidentiality, RequirementFlag::integrity};
  EXPECT_EQ((s & t).to_int(), 16u);
  EXPECT_EQ((s | t).to_int(), 8u | 16u | 32u);
  EXPECT_EQ((s - t).to_int(), 8u);
  EXPECT_EQ((s ^ t).to_int(), 8u | 32u);
  RequirementFlagSet unknown = RequirementFlagSet::from_int(0x100000 | 2);
  EXPECT_EQ(unknown.to_int(), 0x100002u) << "unknown bits round-trip";
  EXPECT_EQ(unknown.size(), 1u);
  EXPECT_STREQ(to_string(RequirementFlag::ok_as_delegate), "ok_as_delegate");
}

}  // namespace
}  // namespace gssgate
