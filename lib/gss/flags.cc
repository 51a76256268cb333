#include "lib/gss/flags.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace gssgate::gss {

std::string Flags::to_string() const {
  static constexpr std::pair<Flag, const char*> kNames[] = {
      {Flag::kDelegate, "delegate"},
      {Flag::kMutual, "mutual"},
      {Flag::kReplay, "replay"},
      {Flag::kSequence, "sequence"},
      {Flag::kConfidentiality, "conf"},
      {Flag::kIntegrity, "integ"},
      {Flag::kAnonymous, "anon"},
      {Flag::kProtectionReady, "prot_ready"},
      {Flag::kTransferable, "transferable"},
      {Flag::kChannelBound, "channel_bound"},
      {Flag::kDceStyle, "dce_style"},
      {Flag::kIdentify, "identify"},
      {Flag::kExtendedError, "extended_error"},
      {Flag::kOkAsDelegate, "ok_as_delegate"},
  };
  std::string out;
  OM_uint32 rest = bits_;
  for (const auto& [flag, name] : kNames) {
    auto bit = static_cast<OM_uint32>(flag);
    if ((rest & bit) == 0) continue;
    absl::StrAppend(&out, out.empty() ? "" : "|", name);
    rest &= ~bit;
  }
  if (rest != 0) absl::StrAppend(&out, out.empty() ? "" : "|", "0x", absl::Hex(rest));
  return out.empty() ? "none" : out;
}

}  // namespace gssgate::gss
