#pragma once

// Names of the gssgate.v1 protocol that are not in the .proto file itself, shared by the daemon
// and libgssgate so the two cannot drift apart.

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

}  // namespace gssgate
