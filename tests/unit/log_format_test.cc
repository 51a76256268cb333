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
