#pragma once

// The GSSAPI context flags (RFC 2744 §5.19, RFC 5554, MIT extensions) as a typed set.

#include <gssapi/gssapi.h>

#include <string>

namespace gssgate::gss {

enum class Flag : OM_uint32 {
  kDelegate = GSS_C_DELEG_FLAG,
  kMutual = GSS_C_MUTUAL_FLAG,
  kReplay = GSS_C_REPLAY_FLAG,
  kSequence = GSS_C_SEQUENCE_FLAG,
  kConfidentiality = GSS_C_CONF_FLAG,
  kIntegrity = GSS_C_INTEG_FLAG,
  kAnonymous = GSS_C_ANON_FLAG,
  kProtectionReady = GSS_C_PROT_READY_FLAG,
  kTransferable = GSS_C_TRANS_FLAG,
  kDceStyle = 4096,        // GSS_C_DCE_STYLE (MIT gssapi_ext.h)
  kIdentify = 8192,        // GSS_C_IDENTIFY_FLAG
  kExtendedError = 16384,  // GSS_C_EXTENDED_ERROR_FLAG
  kOkAsDelegate = 32768,   // GSS_C_DELEG_POLICY_FLAG
  kChannelBound = 2048,    // GSS_C_CHANNEL_BOUND_FLAG (RFC 5554 era, MIT 1.19+)
};

// A set of Flag values backed by the OM_uint32 bit mask GSSAPI uses. Unknown bits are kept, so a
// mask received from GSSAPI round-trips unchanged.
class Flags {
 public:
  constexpr Flags() = default;
  constexpr Flags(Flag f) : bits_(static_cast<OM_uint32>(f)) {}  // NOLINT: implicit by design
  static constexpr Flags from_bits(OM_uint32 bits) {
    Flags f;
    f.bits_ = bits;
    return f;
  }

  constexpr OM_uint32 bits() const { return bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool contains(Flags other) const { return (bits_ & other.bits_) == other.bits_; }

  constexpr Flags operator|(Flags o) const { return from_bits(bits_ | o.bits_); }
  constexpr Flags operator&(Flags o) const { return from_bits(bits_ & o.bits_); }
  constexpr Flags operator-(Flags o) const { return from_bits(bits_ & ~o.bits_); }
  constexpr Flags& operator|=(Flags o) { return *this = *this | o; }
  constexpr Flags& operator&=(Flags o) { return *this = *this & o; }
  constexpr bool operator==(const Flags&) const = default;

  // "mutual|replay|sequence"; unknown bits as "0x...".
  std::string to_string() const;

 private:
  OM_uint32 bits_ = 0;
};

constexpr Flags operator|(Flag a, Flag b) { return Flags(a) | Flags(b); }

// The flags python-gssapi (and so our client) requests when the caller names none.
inline constexpr Flags kDefaultInitFlags = Flag::kMutual | Flag::kSequence;

}  // namespace gssgate::gss
