#pragma once

// RAII over the krb5 handles the GSSAPI layer needs to look into credential stores directly
// (keytab and ccache inspection with errors that name the file). Each Krb5Context is private to
// its owner; there is no global context.

#include <krb5/krb5.h>
#include <stdint.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gssgate::gss {

class Krb5Context {
 public:
  // krb5_init_context. Errors: INTERNAL with krb5's message (e.g. an unparsable krb5.conf).
  static absl::StatusOr<Krb5Context> create();

  Krb5Context(Krb5Context&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}
  Krb5Context& operator=(Krb5Context&& other) noexcept;
  Krb5Context(const Krb5Context&) = delete;
  Krb5Context& operator=(const Krb5Context&) = delete;
  ~Krb5Context();

  krb5_context get() const { return ctx_; }
  // krb5_get_error_message for `code`, which must come from a call on this context.
  std::string error_message(krb5_error_code code) const;
  // An absl::Status "what: krb5 message" for a failed call on this context.
  absl::Status error(krb5_error_code code, std::string_view what) const;

 private:
  explicit Krb5Context(krb5_context ctx) : ctx_(ctx) {}
  krb5_context ctx_ = nullptr;
};

// Move-only owner of one krb5 handle that is released with `Free(context, handle)`. Holds a
// pointer to its Krb5Context, which must outlive it.
template <typename T, auto Free>
class Krb5Handle {
 public:
  explicit Krb5Handle(const Krb5Context& ctx) : ctx_(&ctx) {}
  Krb5Handle(Krb5Handle&& other) noexcept
      : ctx_(other.ctx_), h_(std::exchange(other.h_, nullptr)) {}
  Krb5Handle& operator=(Krb5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      ctx_ = other.ctx_;
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }
  Krb5Handle(const Krb5Handle&) = delete;
  Krb5Handle& operator=(const Krb5Handle&) = delete;
  ~Krb5Handle() { reset(); }

  T get() const { return h_; }
  T* out() {
    reset();
    return &h_;
  }
  void reset() {
    if (h_ != nullptr) Free(ctx_->get(), h_);
    h_ = nullptr;
  }

 private:
  const Krb5Context* ctx_;
  T h_ = nullptr;
};

namespace internal {
// krb5_kt_close and krb5_cc_close return an error code the destructor cannot act on.
inline void close_keytab(krb5_context ctx, krb5_keytab kt) { krb5_kt_close(ctx, kt); }
inline void close_ccache(krb5_context ctx, krb5_ccache cc) { krb5_cc_close(ctx, cc); }
}  // namespace internal

using Krb5Keytab = Krb5Handle<krb5_keytab, internal::close_keytab>;
using Krb5Ccache = Krb5Handle<krb5_ccache, internal::close_ccache>;
using Krb5Principal = Krb5Handle<krb5_principal, krb5_free_principal>;

struct KeytabEntry {
  std::string principal;  // unparsed, with realm
  krb5_kvno kvno = 0;
  krb5_enctype enctype = 0;
};

// Lists a keytab ("FILE:/path" or a bare path). Errors name the keytab and carry krb5's text:
// NOT_FOUND for a missing file, PERMISSION_DENIED for an unreadable one, INTERNAL otherwise.
// Key bytes are never copied out.
absl::StatusOr<std::vector<KeytabEntry>> list_keytab(const Krb5Context& ctx,
                                                     const std::string& keytab);

// Seals and opens byte strings with a key that exists only in this object (krb5's authenticated
// encryption, aes256-cts-hmac-sha384-192). The daemon seals exported credentials with it so only
// the daemon that made a token can import it; the key dies with the process.
// Thread-safe (calls are serialized on the private krb5 context).
class Sealer {
 public:
  static absl::StatusOr<std::unique_ptr<Sealer>> create();
  ~Sealer();
  // Encrypts and authenticates `plaintext` together with `binding` (who the token is for, e.g.
  // "uid=1000"); the binding is checked by open(), not carried in the clear. INTERNAL if krb5
  // fails.
  absl::StatusOr<std::string> seal(std::string_view plaintext, std::string_view binding) const;
  // The plaintext. INVALID_ARGUMENT unless `token` was sealed by this Sealer, is intact and was
  // sealed with the same `binding` (the message says which check failed).
  absl::StatusOr<std::string> open(std::string_view token, std::string_view binding) const;
  // A keyed MAC of `data` under the same key (HMAC-SHA384-192): who does not hold the key can
  // neither compute it nor find two inputs with the same one. INTERNAL if krb5 fails.
  absl::StatusOr<std::string> mac(std::string_view data) const;

 private:
  Sealer(Krb5Context ctx, krb5_keyblock key) : ctx_(std::move(ctx)), key_(key) {}
  Krb5Context ctx_;
  krb5_keyblock key_;
  mutable std::mutex mu_;
};

// The default principal of a credential cache ("FILE:/path", "MEMORY:name", ...), unparsed.
absl::StatusOr<std::string> ccache_principal(const Krb5Context& ctx, const std::string& ccache);

// Makes keytab `to` (a MEMORY keytab, which MIT 1.20 cannot destroy) hold exactly the entries of
// keytab `from`. Only for a keytab no one else uses yet: MIT walks a MEMORY keytab with a cursor
// on its next entry, unlocked between entries, so removing entries from one that an accept may be
// walking frees memory under it (daemon/owner_stores.cc makes a new keytab for every copy). Errors
// name the keytab.
absl::Status mirror_keytab(const Krb5Context& ctx, const std::string& from, const std::string& to);

// Keeps a keytab resolved for as long as it lives: MIT 1.20 frees a MEMORY keytab, entries and
// all, when its last handle is closed (kt_memory.c, HEIMDAL_COMPATIBLE), so a MEMORY keytab that
// must outlast the call that filled it needs one of these.
class HeldKeytab {
 public:
  static absl::StatusOr<std::unique_ptr<HeldKeytab>> resolve(const std::string& name);

 private:
  explicit HeldKeytab(Krb5Context ctx) : ctx_(std::move(ctx)), kt_(ctx_) {}
  Krb5Context ctx_;
  Krb5Keytab kt_;  // after ctx_: closed before it
};

// Replaces the contents of ccache `to` with those of `from`: its principal and every
// credential. Errors name the ccache.
absl::Status mirror_ccache(const Krb5Context& ctx, const std::string& from, const std::string& to);

// Destroys ccache `name` (a MEMORY one is empty when resolved again). NOT_FOUND when it holds
// nothing.
absl::Status destroy_ccache(const Krb5Context& ctx, const std::string& name);

// krb5.conf's permitted_enctypes (MIT's default list where it names none), as MIT reads them for
// a new context: the enctypes the administrator lets this host's krb5 use.
absl::StatusOr<std::vector<int32_t>> permitted_enctypes(const Krb5Context& ctx);

// A new FILE ccache made by MIT with mkstemp in its temporary directory ("FILE:/tmp/krb5cc_..."),
// for credentials to be written somewhere MIT must not write itself. The caller destroys it.
absl::StatusOr<std::string> new_file_ccache(const Krb5Context& ctx);

}  // namespace gssgate::gss
