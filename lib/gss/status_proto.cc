#include "lib/gss/status_proto.h"

namespace gssgate::gss {

void to_proto(const GssStatus& status, ::gssgate::v1::GssStatus* out) {
  out->set_major(status.major);
  out->set_minor(status.minor);
  out->set_mech(status.mech.der());
  out->set_operation(status.operation);
  for (const auto& line : status.major_text) out->add_major_text(line);
  for (const auto& line : status.minor_text) out->add_minor_text(line);
}

}  // namespace gssgate::gss
