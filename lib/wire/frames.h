#pragma once

// The fragment rule of the wire transport (docs/wire.md, proto/gssgate/v1/wire.proto), shared by
// the daemon's replies and libgssgate's requests so both sides split messages the same way.

#include <cstdint>
#include <string_view>
#include <vector>

#include "gssgate/v1/wire.pb.h"

namespace gssgate::wire {

// `payload` as Frames of at most kWireFragmentBytes of it each (one Frame for an empty payload),
// all with `method` and `call_id`, all but the last with `continued` set. The caller sets the
// fields that travel in the first Frame only (code, message, release, not_run, released).
std::vector<v1::Frame> fragment(uint32_t method, uint64_t call_id, std::string_view payload);

}  // namespace gssgate::wire
