#pragma once

// How handlers write audit lines and refuse: one line per decision, and one refusal path for what
// a caller's rule does not grant (docs/daemon.md, "Audit").

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "daemon/log_format.h"  // log_value(), for what callers put in `details`
#include "daemon/policy.h"
#include "daemon/service.h"
#include "lib/gss/name.h"

namespace gssgate::daemon {

// How a caller-supplied name appears in logs: its display form once imported, else only its length
// (the raw value may be a binary exported-name token).
std::string loggable_name(const gss::NameHandle& name, const v1::Name& wire);

// A policy refusal: an audit line (`op`, reason=`why`, outcome=denied) and
// PERMISSION_DENIED(`why`).
absl::Status deny(const Call& call, const char* op, const std::string& why);

// One audit line: operation, caller, rule, free-form details, outcome. Never token bytes. Every
// caller-influenced value in `details` and `outcome` goes through log_value() (log_format.h).
void audit(const Call& call, const char* op, const std::string& details,
           const std::string& outcome);

// The one way a handler refuses a right the caller's rule lacks: OK when the rule grants `right`;
// else an audit line (`op`, the reason) and PERMISSION_DENIED with refusal()'s text, which names
// the rule, the right, `what` needed it, and how an administrator grants it.
absl::Status require(const Call& call, Right right, const char* op, absl::string_view what);

}  // namespace gssgate::daemon
