#pragma once

// Names of the gssgate.v1 protocol that are not in the .proto file itself, shared by the daemon
// and libgssgate so the two cannot drift apart.

namespace gssgate {

// gRPC binary metadata carrying a serialized gssgate.v1.Releases: handles the caller let go of
// since its last call (proto/gssgate/v1/gssgate.proto, message Releases).
inline constexpr char kReleaseMetadata[] = "gssgate-release-bin";

}  // namespace gssgate
