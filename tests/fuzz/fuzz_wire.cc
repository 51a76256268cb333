// Fuzz target: the wire transport's envelope (docs/wire.md). Input: datagrams as one connection
// sends them (fuzz_daemon.h, wire_input: flags byte, 2-byte length, bytes), fed in order to the
// daemon's own WireSession over the in-process daemon, exactly as WireServer feeds what recv
// returns. Reaches Frame parsing, fragment assembly and its limits, interleaved calls, releases
// carried by a request, method dispatch and request decoding, and reply fragmentation.
//
// Checked on every datagram: each reply datagram fits kWireMaxDatagram and parses as a Frame;
// once the session says close, nothing more is fed (the server closes the connection); handles
// made by the input's calls must all go with its connection (FuzzDaemon::end_input aborts if not).
//
// Handles are not substituted here (fuzz_requests covers the handlers with real handles): this
// target is about the envelope. max_message_bytes is 32 KiB so the oversize path is reachable
// with inputs of libFuzzer's usual size.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "daemon/dispatch.h"
#include "daemon/wire_server.h"
#include "gssgate/v1/wire.pb.h"
#include "lib/util/protocol.h"
#include "tests/fuzz/fuzz_daemon.h"

namespace {

constexpr int kMaxMessageBytes = 32 * 1024;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz_wire: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gssgate;
  fuzz::FuzzDaemon& d = fuzz::FuzzDaemon::instance();
  d.begin_input();
  {
    daemon::Dispatcher dispatcher(&d.service(), &d.metrics());
    daemon::WireSession session(&dispatcher, kMaxMessageBytes);
    std::string_view in(reinterpret_cast<const char*>(data), size);
    while (in.size() >= 3) {
      const bool truncated = (in[0] & 1) != 0;
      const size_t n = static_cast<uint8_t>(in[1]) | (static_cast<size_t>(static_cast<uint8_t>(in[2])) << 8);
      in.remove_prefix(3);
      const std::string_view datagram = in.substr(0, n);
      in.remove_prefix(datagram.size());
      daemon::WireSession::Output out = session.feed(d.peer(), datagram, truncated);
      for (const std::string& reply : out.datagrams) {
        if (reply.size() > kWireMaxDatagram) broken("a reply datagram longer than kWireMaxDatagram");
        v1::Frame frame;
        if (!frame.ParseFromString(reply)) broken("a reply datagram that is not a Frame");
      }
      if (out.close) break;
    }
  }
  d.end_input();
  return 0;
}
