#include "daemon/metrics.h"

#include <krb5/krb5.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gssgate::daemon {

namespace {
constexpr const char* kRpcNames[] = {
#define GSSGATE_RPC_NAME(Name) #Name,
    GSSGATE_RPCS(GSSGATE_RPC_NAME)
#undef GSSGATE_RPC_NAME
};
}  // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kGssError:
      return "gss_error";
    case Outcome::kDenied:
      return "denied";
    case Outcome::kNotFound:
      return "not_found";
    case Outcome::kInvalid:
      return "invalid";
    case Outcome::kExhausted:
      return "exhausted";
    case Outcome::kOther:
    case Outcome::kCount:
      break;
  }
  return "other";
}

Outcome outcome_of(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return Outcome::kOk;
    case absl::StatusCode::kPermissionDenied:
      return Outcome::kDenied;
    case absl::StatusCode::kNotFound:
      return Outcome::kNotFound;
    case absl::StatusCode::kInvalidArgument:
      return Outcome::kInvalid;
    case absl::StatusCode::kResourceExhausted:
      return Outcome::kExhausted;
    default:
      return Outcome::kOther;
  }
}

bool is_kdc_error(uint32_t minor) {
  // GSSAPI carries the krb5 com_err code truncated to 32 bits.
  const int32_t code = static_cast<int32_t>(minor);
  // KRB5KDC_ERR_* (the KDC's own error numbers 1..127, e.g. PRINCIPAL_UNKNOWN, PREAUTH_FAILED).
  if (code > KRB5KDC_ERR_NONE && code <= KRB5KDC_ERR_NONE + 127) return true;
  return code == KRB5_KDC_UNREACH || code == KRB5_REALM_UNKNOWN || code == KRB5_REALM_CANT_RESOLVE;
}

void Metrics::record(Rpc rpc, Outcome outcome, absl::Duration latency, bool kdc_error) {
  const size_t r = static_cast<size_t>(rpc);
  calls_[r][static_cast<size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  const double seconds = absl::ToDoubleSeconds(latency);
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  buckets_[r][b].fetch_add(1, std::memory_order_relaxed);
  latency_ns_[r].fetch_add(static_cast<uint64_t>(absl::ToInt64Nanoseconds(latency)),
                           std::memory_order_relaxed);
  if (kdc_error) kdc_errors_.fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render(const Gauges& gauges) const {
  std::string out;
  absl::StrAppend(&out,
                  "# HELP gssgate_calls_total RPCs handled, by RPC and outcome.\n"
                  "# TYPE gssgate_calls_total counter\n");
  uint64_t denials = 0;
  for (size_t r = 0; r < kRpcs; ++r) {
    for (size_t o = 0; o < kOutcomes; ++o) {
      uint64_t n = calls_[r][o].load(std::memory_order_relaxed);
      if (o == static_cast<size_t>(Outcome::kDenied)) denials += n;
      if (n == 0) continue;
      absl::StrAppend(&out, "gssgate_calls_total{rpc=\"", kRpcNames[r], "\",outcome=\"",
                      to_string(static_cast<Outcome>(o)), "\"} ", n, "\n");
    }
  }
  absl::StrAppend(&out,
                  "# HELP gssgate_call_duration_seconds Time from dispatch to reply, by RPC.\n"
                  "# TYPE gssgate_call_duration_seconds histogram\n");
  for (size_t r = 0; r < kRpcs; ++r) {
    uint64_t count = 0;
    std::array<uint64_t, kBuckets.size() + 1> bucket{};
    for (size_t b = 0; b <= kBuckets.size(); ++b) {
      bucket[b] = buckets_[r][b].load(std::memory_order_relaxed);
      count += bucket[b];
    }
    if (count == 0) continue;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      cumulative += bucket[b];
      absl::StrAppend(&out, "gssgate_call_duration_seconds_bucket{rpc=\"", kRpcNames[r], "\",le=\"",
                      absl::StrFormat("%g", kBuckets[b]), "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, "gssgate_call_duration_seconds_bucket{rpc=\"", kRpcNames[r],
                    "\",le=\"+Inf\"} ", count, "\n");
    absl::StrAppend(&out, "gssgate_call_duration_seconds_sum{rpc=\"", kRpcNames[r], "\"} ",
                    absl::StrFormat("%.9f", latency_ns_[r].load(std::memory_order_relaxed) / 1e9),
                    "\n");
    absl::StrAppend(&out, "gssgate_call_duration_seconds_count{rpc=\"", kRpcNames[r], "\"} ", count,
                    "\n");
  }
  absl::StrAppend(&out,
                  "# HELP gssgate_denials_total Calls refused by policy.\n"
                  "# TYPE gssgate_denials_total counter\n"
                  "gssgate_denials_total ",
                  denials,
                  "\n"
                  "# HELP gssgate_kdc_errors_total GSSAPI failures caused by the KDC (unreachable, "
                  "or an error it returned).\n"
                  "# TYPE gssgate_kdc_errors_total counter\n"
                  "gssgate_kdc_errors_total ",
                  kdc_errors_.load(std::memory_order_relaxed),
                  "\n"
                  "# HELP gssgate_live_handles Credential and context handles held for callers.\n"
                  "# TYPE gssgate_live_handles gauge\n"
                  "gssgate_live_handles{kind=\"credential\"} ",
                  gauges.credentials, "\ngssgate_live_handles{kind=\"context\"} ", gauges.contexts,
                  "\n"
                  "# HELP gssgate_connections Open caller connections.\n"
                  "# TYPE gssgate_connections gauge\n"
                  "gssgate_connections ",
                  gauges.connections, "\n");
  return out;
}

}  // namespace gssgate::daemon
