#include "daemon/log_format.h"

#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/util/json.h"
#include "spdlog/details/log_msg.h"
#include "spdlog/pattern_formatter.h"

namespace gssgate::daemon {

bool is_journal_stream(int fd, const char* journal_stream) {
  if (journal_stream == nullptr) return false;
  std::pair<std::string, std::string> parts =
      absl::StrSplit(journal_stream, absl::MaxSplits(':', 1));
  uint64_t dev = 0, ino = 0;
  if (!absl::SimpleAtoi(parts.first, &dev) || !absl::SimpleAtoi(parts.second, &ino)) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino;
}

using util::json_quote;

namespace {

// spdlog level → "<N>" syslog priority.
const char* priority(spdlog::level::level_enum level) {
  static constexpr const char* kPriority[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
  return kPriority[static_cast<int>(level)];
}

class PriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const char* p = priority(msg.level);
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

class JsonFormatter : public spdlog::formatter {
 public:
  explicit JsonFormatter(bool journal) : journal_(journal) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    std::string line = journal_ ? priority(msg.level) : "";
    line += "{\"time\": ";
    line += json_quote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3S%Ez", absl::FromChrono(msg.time),
                                        absl::LocalTimeZone()));
    line += ", \"level\": ";
    auto level = spdlog::level::to_string_view(msg.level);
    line += json_quote(std::string_view(level.data(), level.size()));
    line += ", \"msg\": " + json_quote(text);
    if (text.rfind("audit ", 0) == 0) {  // (absl::StartsWith takes absl::string_view here)
      line += ", \"audit\": " + audit_fields_json(text.substr(6));
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(journal_);
  }

 private:
  bool journal_;
};

}  // namespace

std::string audit_fields_json(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> fields;
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && body[i] == ' ') ++i;
    if (i >= body.size()) break;
    // One word: up to a space outside quotes.
    std::string word;
    bool quoted = false;
    for (; i < body.size() && (quoted || body[i] != ' '); ++i) {
      if (quoted && body[i] == '\\' && i + 1 < body.size() && body[i + 1] == '"') {
        word += '"';  // log_value's escaped quote
        ++i;
        continue;
      }
      if (body[i] == '"') {
        quoted = !quoted;
        continue;  // quotes delimit, they are not part of the value
      }
      word += body[i];
    }
    size_t eq = word.find('=');
    if (eq != std::string::npos && eq > 0 && word.find(' ') > eq) {
      fields.emplace_back(word.substr(0, eq), word.substr(eq + 1));
    } else if (!fields.empty()) {
      fields.back().second += " " + word;
    } else {
      fields.emplace_back("text", word);
    }
  }
  std::string out = "{";
  for (size_t f = 0; f < fields.size(); ++f) {
    out += (f ? ", " : "") + json_quote(fields[f].first) + ": " + json_quote(fields[f].second);
  }
  return out + "}";
}

std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format, bool journal) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>(journal);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (journal) {
    // The journal stamps the time itself.
    formatter->add_flag<PriorityFlag>('*').set_pattern("%*%v");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  }
  return formatter;
}

}  // namespace gssgate::daemon
