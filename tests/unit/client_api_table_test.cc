// docs/client.md's table of python-gssapi's high-level API (issue 18) against the public headers:
// every C++ member the table names must be declared in client/include/gssgate/, so the table
// cannot promise a member that was renamed or removed. The headers are read as text (comments
// stripped): a declaration is `member(`, `member;`, `member =` or `member{` inside the body of the
// class, struct or enum class the entry names, or anywhere at namespace level for a free function.

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace gssgate {
namespace {

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The public headers, concatenated, without // comments (they mention members freely) and
// without macro definitions.
std::string headers_without_comments() {
  std::string all;
  for (const auto& entry :
       std::filesystem::directory_iterator(GSSGATE_SOURCE_DIR "/client/include/gssgate")) {
    if (entry.path().extension() != ".h") continue;
    bool in_macro = false;
    for (absl::string_view line : absl::StrSplit(read(entry.path()), '\n')) {
      // Macro bodies (the GSSError subclasses' templates, `class Name : …`) declare nothing.
      const bool continued = absl::EndsWith(line, "\\");
      if (in_macro || continued) {
        in_macro = continued;
        continue;
      }
      const absl::string_view code = line.substr(0, line.find("//"));
      all.append(code.data(), code.size());
      all.push_back('\n');
    }
  }
  return all;
}

// The body of `class|struct|enum class name { … }` (brace-matched), or "" if none is declared.
std::string body_of(const std::string& headers, const std::string& name) {
  const std::regex opening("(class|struct|enum class)\\s+" + name + "\\b[^;{]*\\{");
  std::smatch found;
  if (!std::regex_search(headers, found, opening)) return "";
  size_t at = static_cast<size_t>(found.position(0) + found.length(0));
  const size_t start = at;
  for (int depth = 1; at < headers.size() && depth > 0; ++at) {
    if (headers[at] == '{') ++depth;
    if (headers[at] == '}') --depth;
  }
  return headers.substr(start, at - start);
}

std::string escaped(const std::string& text) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(text, special, R"(\$&)");
}

bool declares(const std::string& text, const std::string& member) {
  return std::regex_search(text, std::regex("(^|[^A-Za-z0-9_])" + escaped(member) +
                                            "\\s*[(;={]"));
}

// The rows of the table under "## Every member of python-gssapi's high-level API".
std::vector<std::vector<std::string>> table_rows() {
  const std::string doc = read(GSSGATE_SOURCE_DIR "/docs/client.md");
  const std::string heading = "## Every member of python-gssapi's high-level API";
  size_t at = doc.find(heading);
  if (at == std::string::npos) return {};
  const size_t end = doc.find("\n## ", at + heading.size());
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line :
       absl::StrSplit(doc.substr(at, end == std::string::npos ? end : end - at), '\n')) {
    if (!absl::StartsWith(line, "| ") || absl::StartsWith(line, "|---")) continue;
    std::vector<std::string> cells;
    for (absl::string_view cell : absl::StrSplit(line, " | ")) {
      cells.emplace_back(absl::StripAsciiWhitespace(absl::StripPrefix(cell, "| ")));
    }
    rows.push_back(std::move(cells));
  }
  if (!rows.empty()) rows.erase(rows.begin());  // the header row
  return rows;
}

// The C++ members a cell names: its `Class::member` and `free_function` spans.
std::vector<std::string> members_in(const std::string& cell) {
  std::vector<std::string> members;
  static const std::regex code("`([A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_=]*)?)`");
  for (std::sregex_iterator it(cell.begin(), cell.end(), code), end; it != end; ++it) {
    members.push_back((*it)[1]);
  }
  return members;
}

TEST(ClientApiTableTest, EveryMemberTheTableNamesIsDeclaredInThePublicHeaders) {
  const std::string headers = headers_without_comments();
  ASSERT_GT(headers.size(), 10'000u) << "the public headers were not found";
  const std::vector<std::vector<std::string>> rows = table_rows();
  ASSERT_GE(rows.size(), 50u) << "docs/client.md lost its table of python-gssapi's API";
  size_t checked = 0;
  for (const std::vector<std::string>& row : rows) {
    ASSERT_EQ(row.size(), 3u) << "a row of three cells: " << row.front();
    const std::vector<std::string> members = members_in(row[1]);
    if (members.empty()) {
      EXPECT_EQ(row[1], "—") << "a row names no C++ member: " << row[0];
      continue;
    }
    for (const std::string& member : members) {
      ++checked;
      const size_t scope = member.find("::");
      if (scope == std::string::npos) {
        EXPECT_TRUE(declares(headers, member)) << member << " is not declared";
        continue;
      }
      const std::string type = member.substr(0, scope);
      const std::string name = member.substr(scope + 2);
      const std::string body = body_of(headers, type);
      ASSERT_FALSE(body.empty()) << type << " (in " << member << ") is not declared";
      EXPECT_TRUE(declares(body, name)) << member << " is not declared in " << type;
    }
  }
  EXPECT_GE(checked, 90u);
}

// The checker itself: it must fail for members that do not exist.
TEST(ClientApiTableTest, TheCheckerRejectsMembersThatDoNotExist) {
  const std::string headers = headers_without_comments();
  EXPECT_TRUE(declares(body_of(headers, "SecurityContext"), "verify_signature"));
  EXPECT_FALSE(declares(body_of(headers, "SecurityContext"), "verify_signatures"));
  EXPECT_FALSE(declares(body_of(headers, "Name"), "no_such_member"));
  EXPECT_TRUE(body_of(headers, "NoSuchClass").empty());
  EXPECT_TRUE(declares(body_of(headers, "RequirementFlag"), "confidentiality"));
  EXPECT_TRUE(declares(body_of(headers, "Name"), "operator=="));
  EXPECT_EQ(members_in("`Name::str`, `set_encoding` and `x y`"),
            (std::vector<std::string>{"Name::str", "set_encoding"}));
}

}  // namespace
}  // namespace gssgate
