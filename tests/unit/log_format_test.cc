// The JSON log format: audit lines become structured fields, anything else stays a message.

#include "daemon/log_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/util/json.h"

namespace gssgate::daemon {
namespace {

TEST(LogFormatTest, AuditBodiesBecomeFieldsWithQuotedValuesUnquoted) {
  EXPECT_EQ(
      audit_fields_json("op=acquire uid=0 gid=0 pid=7 conn=1 rule=web name=\"alice@R\" "
                        "usage=initiate outcome=ok"),
      "{\"op\": \"acquire\", \"uid\": \"0\", \"gid\": \"0\", \"pid\": \"7\", \"conn\": \"1\", "
      "\"rule\": \"web\", \"name\": \"alice@R\", \"usage\": \"initiate\", \"outcome\": "
      "\"ok\"}");
  // A quoted value with spaces, and the `outcome=gss-error "text"` shape.
  EXPECT_EQ(
      audit_fields_json("op=accept reason=\"no rule for x\" outcome=gss-error \"Major (1): a=b\""),
      "{\"op\": \"accept\", \"reason\": \"no rule for x\", \"outcome\": \"gss-error Major "
      "(1): a=b\"}");
  EXPECT_EQ(audit_fields_json(""), "{}");
}

TEST(LogFormatTest, JsonQuoteEscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(util::json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\u000a\\u0001\"");
}

}  // namespace
}  // namespace gssgate::daemon
