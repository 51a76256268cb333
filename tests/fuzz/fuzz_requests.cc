// Fuzz target: any request of any RPC, decoded from the input and run through the real handler
// layer (policy check, handle table, GSSAPI) of an in-process daemon. Input: one byte choosing the
// RPC (index in GSSGATE_RPCS, modulo their count), then the serialized request. See
// fuzz_daemon.h for the handle placeholders.

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_daemon.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  gssgate::fuzz::FuzzDaemon& daemon = gssgate::fuzz::FuzzDaemon::instance();
  daemon.begin_input();
  daemon.call_encoded(data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  daemon.end_input();
  return 0;
}
