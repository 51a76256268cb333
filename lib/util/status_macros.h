#pragma once

// Debian 12's Abseil (20220623) ships absl::Status but not the RETURN_IF_ERROR / ASSIGN_OR_RETURN
// helpers, so the project keeps its own two.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GSSGATE_STATUS_CONCAT_INNER_(a, b) a##b
#define GSSGATE_STATUS_CONCAT_(a, b) GSSGATE_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the current function if it is not OK.
#define GSSGATE_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status gssgate_status_ = (expr);           \
    if (!gssgate_status_.ok()) return gssgate_status_; \
  } while (false)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its status from the current function.
#define GSSGATE_ASSIGN_OR_RETURN(lhs, rexpr) \
  GSSGATE_ASSIGN_OR_RETURN_IMPL_(GSSGATE_STATUS_CONCAT_(gssgate_statusor_, __LINE__), lhs, rexpr)

#define GSSGATE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()
