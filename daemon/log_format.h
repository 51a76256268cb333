#pragma once

// How gssgated's log lines look: plain text for a terminal, "<N>"-prefixed for the journal
// (systemd sets JOURNAL_STREAM when stderr is the journal; sd-daemon(3) priorities), and one JSON
// object per line with --log-format json, where an audit line's key=value pairs become an "audit"
// object: {"time": "...", "level": "info", "msg": "audit op=acquire ...", "audit": {"op": ...}}.

#include <memory>
#include <string>
#include <string_view>

#include "lib/util/log_escape.h"
#include "spdlog/formatter.h"

namespace gssgate::daemon {

enum class LogFormat { kText, kJson };

// The formatter for `format`; `journal` adds the syslog priority prefix.
std::unique_ptr<spdlog::formatter> make_log_formatter(LogFormat format, bool journal);

// Whether `fd` is the journal stream systemd named in JOURNAL_STREAM ("DEV:INODE", from
// `journal_stream`, null when unset). systemd.exec(5): the variable is inherited by children whose
// stderr may go elsewhere, so it counts only when it matches fd's device and inode.
bool is_journal_stream(int fd, const char* journal_stream);

using util::log_value;  // lib/util/log_escape.h: every caller-influenced value in a log line

// The JSON object for an audit message body ("op=acquire uid=0 … outcome=ok"): every key=value,
// values unquoted (inside quotes \" is a quote; \xHH escapes stay as written); words without a
// key join the value before them (`outcome=gss-error "text"`).
std::string audit_fields_json(std::string_view body);

}  // namespace gssgate::daemon
