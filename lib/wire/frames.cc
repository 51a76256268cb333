#include "lib/wire/frames.h"

#include <algorithm>

#include "lib/util/protocol.h"

namespace gssgate::wire {

std::vector<v1::Frame> fragment(uint32_t method, uint64_t call_id, std::string_view payload) {
  std::vector<v1::Frame> frames;
  size_t offset = 0;
  do {
    v1::Frame& frame = frames.emplace_back();
    frame.set_method(method);
    frame.set_call_id(call_id);
    const size_t part = std::min(payload.size() - offset, kWireFragmentBytes);
    frame.set_payload(payload.data() + offset, part);
    offset += part;
    frame.set_continued(offset < payload.size());
  } while (offset < payload.size());
  return frames;
}

}  // namespace gssgate::wire
