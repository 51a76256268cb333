#pragma once

// gss::GssStatus on the wire (v1::GssStatus). Shared by the daemon, which sends statuses, and the
// client library, which renders the statuses of contexts it runs in-process (make_local()) through
// the same exception mapping as the daemon's. Protobuf only: no gRPC here.

#include "gssgate/v1/gssgate.pb.h"
#include "lib/gss/status.h"

namespace gssgate::gss {

void to_proto(const GssStatus& status, ::gssgate::v1::GssStatus* out);

}  // namespace gssgate::gss
