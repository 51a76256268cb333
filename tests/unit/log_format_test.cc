// The JSON log format: audit lines become structured fields, anything else stays a message.

#include "daemon/log_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
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

// Issue #14, item 5: one escaping routine for every caller-influenced value.
TEST(LogFormatTest, LogValueEscapesWhatCouldEndAFieldStartALineOrBreakJson) {
  EXPECT_EQ(log_value("alice@R"), "\"alice@R\"");
  EXPECT_EQ(log_value(""), "\"\"");
  EXPECT_EQ(log_value("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(log_value("a\\b"), "\"a\\x5cb\"");
  EXPECT_EQ(log_value("a\nb\r\t\x7f"), "\"a\\x0ab\\x0d\\x09\\x7f\"");
  EXPECT_EQ(log_value(std::string("nul\0", 4)), "\"nul\\x00\"");
  // Well-formed UTF-8 stays; bad UTF-8 (a lone continuation byte, an overlong, a surrogate, a
  // truncated sequence, beyond U+10FFFF) is escaped byte by byte.
  EXPECT_EQ(log_value("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\"");
  EXPECT_EQ(log_value("\x80"), "\"\\x80\"");
  EXPECT_EQ(log_value("\xc0\xaf"), "\"\\xc0\\xaf\"");
  EXPECT_EQ(log_value("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");
  EXPECT_EQ(log_value("\xe2\x82"), "\"\\xe2\\x82\"");
  EXPECT_EQ(log_value("\xf4\x90\x80\x80"), "\"\\xf4\\x90\\x80\\x80\"");
}

TEST(LogFormatTest, HostileValuesParseBackToExactlyTheFieldsWritten) {
  for (const std::string& hostile :
       {std::string("two\nlines"), std::string("quote\" outcome=ok"), std::string("back\\slash\\"),
        std::string("<6>audit op=forged uid=0 outcome=ok"), std::string("bad\xff\xfeutf8"),
        std::string("x\" forged=\"1")}) {
    const std::string escaped = log_value(hostile);
    const std::string body =
        "op=acquire uid=1 name=" + escaped + " reason=" + escaped + " outcome=gss-error " + escaped;
    EXPECT_EQ(body.find('\n'), std::string::npos);
    // The field value is the escaped text without its quotes, with \" read as a quote.
    std::string value = escaped.substr(1, escaped.size() - 2);
    for (size_t at = value.find("\\\""); at != std::string::npos; at = value.find("\\\"", at)) {
      value.replace(at, 2, "\"");
      ++at;
    }
    EXPECT_EQ(audit_fields_json(body),
              "{\"op\": \"acquire\", \"uid\": \"1\", \"name\": " + util::json_quote(value) +
                  ", \"reason\": " + util::json_quote(value) +
                  ", \"outcome\": " + util::json_quote("gss-error " + value) + "}")
        << hostile;
  }
}

TEST(LogFormatTest, JsonQuoteEscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(util::json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\u000a\\u0001\"");
}

// systemd names the journal stream by device and inode; a child that inherited the variable but
// writes elsewhere must not prefix its lines with priorities.
TEST(LogFormatTest, JournalStreamCountsOnlyWhenItNamesThisFd) {
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  const std::string mine = absl::StrCat(st.st_dev, ":", st.st_ino);
  EXPECT_TRUE(is_journal_stream(fd, mine.c_str()));
  EXPECT_FALSE(is_journal_stream(fd, absl::StrCat(st.st_dev, ":", st.st_ino + 1).c_str()));
  EXPECT_FALSE(is_journal_stream(fd, absl::StrCat(st.st_dev + 1, ":", st.st_ino).c_str()));
  EXPECT_FALSE(is_journal_stream(fd, nullptr));
  EXPECT_FALSE(is_journal_stream(fd, ""));
  EXPECT_FALSE(is_journal_stream(fd, "garbage"));
  EXPECT_FALSE(is_journal_stream(fd, "1:2:3"));
  close(fd);
  EXPECT_FALSE(is_journal_stream(fd, mine.c_str())) << "a closed fd is no stream";
}

}  // namespace
}  // namespace gssgate::daemon
