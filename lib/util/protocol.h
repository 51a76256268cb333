#pragma once

// Names of the gssgate.v1 protocol that are not in the .proto file itself, shared by the daemon
// and libgssgate so the two cannot drift apart.

#include <cstddef>

namespace gssgate {

// gRPC binary metadata carrying a serialized gssgate.v1.Releases: handles the caller let go of
// since its last call (proto/gssgate/v1/gssgate.proto, message Releases).
inline constexpr char kReleaseMetadata[] = "gssgate-release-bin";

// Trailing metadata on any reply to a call that carried kReleaseMetadata: the daemon released
// those handles (as far as they were the caller's). A failed call without it never got that far
// (gRPC refused it first), and the client queues its releases again.
inline constexpr char kReleasedMetadata[] = "gssgate-released";

// Trailing metadata on a RESOURCE_EXHAUSTED that gssgated answered before running the call (the
// caller's uid had its share of the daemon's threads busy): nothing happened, so the same call may
// be made again; libgssgate does, with backoff, until the call's deadline.
inline constexpr char kNotRunMetadata[] = "gssgate-not-run";

// The wire transport (proto/gssgate/v1/wire.proto, docs/wire.md): a message longer than this is
// sent as several Frames of at most this many payload bytes each.
inline constexpr size_t kWireFragmentBytes = 128 * 1024;
// The largest datagram either side sends or accepts: a fragment plus the Frame's other fields
// (a request's releases: at most 256 handles). Below the kernel's default socket send buffer
// (net.core.wmem_default, 208 KiB), which bounds a SOCK_SEQPACKET datagram.
inline constexpr size_t kWireMaxDatagram = kWireFragmentBytes + 48 * 1024;
// The scheme that names a wire socket where a gRPC one is expected (GSSGATE_SOCKET, --socket).
inline constexpr char kWireScheme[] = "wire:";

}  // namespace gssgate
