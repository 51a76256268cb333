#include "lib/gss/krb5.h"

#include <string.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"

namespace gssgate::gss {

absl::StatusOr<Krb5Context> Krb5Context::create() {
  krb5_context ctx = nullptr;
  krb5_error_code code = krb5_init_context(&ctx);
  if (code != 0) {
    // MIT accepts a null context here and falls back to the com_err table text.
    const char* msg = krb5_get_error_message(ctx, code);
    absl::Status status = absl::InternalError(absl::StrCat("krb5_init_context: ", msg));
    krb5_free_error_message(ctx, msg);
    if (ctx != nullptr) krb5_free_context(ctx);
    return status;
  }
  return Krb5Context(ctx);
}

Krb5Context& Krb5Context::operator=(Krb5Context&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) krb5_free_context(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

Krb5Context::~Krb5Context() {
  if (ctx_ != nullptr) krb5_free_context(ctx_);
}

std::string Krb5Context::error_message(krb5_error_code code) const {
  const char* msg = krb5_get_error_message(ctx_, code);
  std::string out = msg ? msg : absl::StrCat("krb5 error ", code);
  krb5_free_error_message(ctx_, msg);
  return out;
}

absl::Status Krb5Context::error(krb5_error_code code, std::string_view what) const {
  std::string text =
      absl::StrCat(absl::string_view(what.data(), what.size()), ": ", error_message(code));
  switch (code) {
    case ENOENT:
    case KRB5_KT_NOTFOUND:
    case KRB5_FCC_NOFILE:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    default:
      return absl::InternalError(text);
  }
}

absl::StatusOr<std::vector<KeytabEntry>> list_keytab(const Krb5Context& ctx,
                                                     const std::string& keytab) {
  Krb5Keytab kt(ctx);
  krb5_error_code code = krb5_kt_resolve(ctx.get(), keytab.c_str(), kt.out());
  if (code != 0) return ctx.error(code, absl::StrCat("keytab ", keytab));

  krb5_kt_cursor cursor;
  code = krb5_kt_start_seq_get(ctx.get(), kt.get(), &cursor);
  if (code != 0) return ctx.error(code, absl::StrCat("keytab ", keytab));

  std::vector<KeytabEntry> entries;
  krb5_keytab_entry entry;
  while ((code = krb5_kt_next_entry(ctx.get(), kt.get(), &entry, &cursor)) == 0) {
    char* name = nullptr;
    krb5_error_code unparse = krb5_unparse_name(ctx.get(), entry.principal, &name);
    if (unparse == 0) {
      entries.push_back(KeytabEntry{name, entry.vno, entry.key.enctype});
      krb5_free_unparsed_name(ctx.get(), name);
    }
    krb5_free_keytab_entry_contents(ctx.get(), &entry);
    if (unparse != 0) {
      krb5_kt_end_seq_get(ctx.get(), kt.get(), &cursor);
      return ctx.error(unparse, absl::StrCat("keytab ", keytab));
    }
  }
  krb5_kt_end_seq_get(ctx.get(), kt.get(), &cursor);
  if (code != KRB5_KT_END) return ctx.error(code, absl::StrCat("keytab ", keytab));
  return entries;
}

namespace {
constexpr char kSealMagic[] = "GGS1";       // format version of a sealed token
constexpr krb5_keyusage kSealUsage = 1024;  // any number MIT does not use itself
constexpr krb5_keyusage kMacUsage = 1025;   // mac(): a usage of its own, never kSealUsage
constexpr krb5_enctype kSealEnctype = ENCTYPE_AES256_CTS_HMAC_SHA384_192;
}  // namespace

absl::StatusOr<std::unique_ptr<Sealer>> Sealer::create() {
  GSSGATE_ASSIGN_OR_RETURN(Krb5Context ctx, Krb5Context::create());
  krb5_keyblock key{};
  krb5_error_code code = krb5_c_make_random_key(ctx.get(), kSealEnctype, &key);
  if (code != 0) return ctx.error(code, "sealing key");
  return std::unique_ptr<Sealer>(new Sealer(std::move(ctx), key));
}

Sealer::~Sealer() { krb5_free_keyblock_contents(ctx_.get(), &key_); }

// Sealed plaintext: 4-byte big-endian length of the binding, the binding, then the payload. The
// whole is inside krb5_c_encrypt's integrity check, so the binding cannot be changed or stripped.
absl::StatusOr<std::string> Sealer::seal(std::string_view plaintext,
                                         std::string_view binding) const {
  const uint32_t n = static_cast<uint32_t>(binding.size());
  std::string framed;
  framed.reserve(4 + binding.size() + plaintext.size());
  for (int shift = 24; shift >= 0; shift -= 8) framed.push_back(static_cast<char>(n >> shift));
  framed.append(binding);
  framed.append(plaintext);

  std::lock_guard<std::mutex> lock(mu_);
  size_t length = 0;
  krb5_error_code code = krb5_c_encrypt_length(ctx_.get(), kSealEnctype, framed.size(), &length);
  if (code != 0) return ctx_.error(code, "sealing a credential token");
  std::string out(kSealMagic);
  const size_t header = out.size();
  out.resize(header + length);
  krb5_data in{KV5M_DATA, static_cast<unsigned int>(framed.size()), framed.data()};
  krb5_enc_data enc{};
  enc.ciphertext.data = out.data() + header;
  enc.ciphertext.length = static_cast<unsigned int>(length);
  code = krb5_c_encrypt(ctx_.get(), &key_, kSealUsage, nullptr, &in, &enc);
  // The framed copy holds the plaintext (credential keys): wipe it, whatever happened.
  explicit_bzero(framed.data(), framed.size());
  if (code != 0) return ctx_.error(code, "sealing a credential token");
  out.resize(header + enc.ciphertext.length);
  return out;
}

absl::StatusOr<std::string> Sealer::open(std::string_view token, std::string_view binding) const {
  const std::string_view magic(kSealMagic);
  if (token.size() <= magic.size() || token.substr(0, magic.size()) != magic) {
    return absl::InvalidArgumentError("not a gssgate credential token");
  }
  std::string plain;
  {
    std::lock_guard<std::mutex> lock(mu_);
    krb5_enc_data enc{};
    enc.enctype = kSealEnctype;
    enc.ciphertext.data = const_cast<char*>(token.data() + magic.size());
    enc.ciphertext.length = static_cast<unsigned int>(token.size() - magic.size());
    plain.assign(enc.ciphertext.length, '\0');
    krb5_data out{KV5M_DATA, static_cast<unsigned int>(plain.size()), plain.data()};
    if (krb5_c_decrypt(ctx_.get(), &key_, kSealUsage, nullptr, &enc, &out) != 0) {
      return absl::InvalidArgumentError(
          "the credential token was not sealed by this daemon, was altered, or the daemon has "
          "restarted since it was exported");
    }
    plain.resize(out.length);
  }
  uint32_t n = 0;
  if (plain.size() >= 4) {
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(plain[i]);
  }
  if (plain.size() < 4 || plain.size() - 4 < n) {
    explicit_bzero(plain.data(), plain.size());
    return absl::InvalidArgumentError("the credential token is malformed inside its seal");
  }
  if (std::string_view(plain).substr(4, n) != binding) {
    explicit_bzero(plain.data(), plain.size());
    return absl::InvalidArgumentError(
        "the credential token was exported by another caller; only the uid that exported it may "
        "import it");
  }
  std::string payload = plain.substr(4 + n);
  explicit_bzero(plain.data(), plain.size());
  return payload;
}

absl::StatusOr<std::string> Sealer::mac(std::string_view data) const {
  std::lock_guard<std::mutex> lock(mu_);
  krb5_data in{KV5M_DATA, static_cast<unsigned int>(data.size()), const_cast<char*>(data.data())};
  krb5_checksum sum{};
  krb5_error_code code = krb5_c_make_checksum(ctx_.get(), CKSUMTYPE_HMAC_SHA384_192_AES256, &key_,
                                              kMacUsage, &in, &sum);
  if (code != 0) return ctx_.error(code, "computing a token MAC");
  std::string out(reinterpret_cast<const char*>(sum.contents), sum.length);
  krb5_free_checksum_contents(ctx_.get(), &sum);
  return out;
}

absl::StatusOr<std::string> ccache_principal(const Krb5Context& ctx, const std::string& ccache) {
  Krb5Ccache cc(ctx);
  krb5_error_code code = krb5_cc_resolve(ctx.get(), ccache.c_str(), cc.out());
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", ccache));
  Krb5Principal princ(ctx);
  code = krb5_cc_get_principal(ctx.get(), cc.get(), princ.out());
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", ccache));
  char* name = nullptr;
  code = krb5_unparse_name(ctx.get(), princ.get(), &name);
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", ccache));
  std::string out = name;
  krb5_free_unparsed_name(ctx.get(), name);
  return out;
}

namespace {
// Every entry of a keytab, keys included; freed with the vector.
class KeytabEntries {
 public:
  explicit KeytabEntries(const Krb5Context& ctx) : ctx_(ctx) {}
  ~KeytabEntries() {
    for (krb5_keytab_entry& e : entries_) krb5_free_keytab_entry_contents(ctx_.get(), &e);
  }
  KeytabEntries(const KeytabEntries&) = delete;
  KeytabEntries& operator=(const KeytabEntries&) = delete;

  absl::Status read(krb5_keytab kt, const std::string& name) {
    krb5_kt_cursor cursor;
    krb5_error_code code = krb5_kt_start_seq_get(ctx_.get(), kt, &cursor);
    if (code == KRB5_KT_NOTFOUND || code == KRB5_KT_END) return absl::OkStatus();  // empty
    if (code != 0) return ctx_.error(code, absl::StrCat("keytab ", name));
    krb5_keytab_entry entry;
    while ((code = krb5_kt_next_entry(ctx_.get(), kt, &entry, &cursor)) == 0) {
      entries_.push_back(entry);
    }
    krb5_kt_end_seq_get(ctx_.get(), kt, &cursor);
    if (code != KRB5_KT_END) return ctx_.error(code, absl::StrCat("keytab ", name));
    return absl::OkStatus();
  }
  // Same principal, kvno and enctype: MIT's MEMORY keytab removes by these.
  const krb5_keytab_entry* same_slot(const krb5_keytab_entry& e) const {
    for (const krb5_keytab_entry& x : entries_) {
      if (x.vno == e.vno && x.key.enctype == e.key.enctype &&
          krb5_principal_compare(ctx_.get(), x.principal, e.principal)) {
        return &x;
      }
    }
    return nullptr;
  }
  static bool same_key(const krb5_keytab_entry& a, const krb5_keytab_entry& b) {
    return a.key.length == b.key.length &&
           (a.key.length == 0 || memcmp(a.key.contents, b.key.contents, a.key.length) == 0);
  }
  std::vector<krb5_keytab_entry>& entries() { return entries_; }

 private:
  const Krb5Context& ctx_;
  std::vector<krb5_keytab_entry> entries_;
};
}  // namespace

absl::Status mirror_keytab(const Krb5Context& ctx, const std::string& from,
                           const std::string& to) {
  Krb5Keytab src(ctx), dst(ctx);
  krb5_error_code code = krb5_kt_resolve(ctx.get(), from.c_str(), src.out());
  if (code != 0) return ctx.error(code, absl::StrCat("keytab ", from));
  code = krb5_kt_resolve(ctx.get(), to.c_str(), dst.out());
  if (code != 0) return ctx.error(code, absl::StrCat("keytab ", to));
  KeytabEntries want(ctx), have(ctx);
  GSSGATE_RETURN_IF_ERROR(want.read(src.get(), from));
  GSSGATE_RETURN_IF_ERROR(have.read(dst.get(), to));
  for (krb5_keytab_entry& e : want.entries()) {
    const krb5_keytab_entry* old = have.same_slot(e);
    if (old != nullptr && KeytabEntries::same_key(*old, e)) continue;
    if (old != nullptr) {  // the same slot with another key: replace it
      code = krb5_kt_remove_entry(ctx.get(), dst.get(), const_cast<krb5_keytab_entry*>(old));
      if (code != 0) return ctx.error(code, absl::StrCat("keytab ", to));
    }
    code = krb5_kt_add_entry(ctx.get(), dst.get(), &e);
    if (code != 0) return ctx.error(code, absl::StrCat("keytab ", to));
  }
  for (krb5_keytab_entry& e : have.entries()) {
    if (want.same_slot(e) != nullptr) continue;
    code = krb5_kt_remove_entry(ctx.get(), dst.get(), &e);
    if (code != 0) return ctx.error(code, absl::StrCat("keytab ", to));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HeldKeytab>> HeldKeytab::resolve(const std::string& name) {
  GSSGATE_ASSIGN_OR_RETURN(Krb5Context ctx, Krb5Context::create());
  std::unique_ptr<HeldKeytab> held(new HeldKeytab(std::move(ctx)));
  krb5_error_code code = krb5_kt_resolve(held->ctx_.get(), name.c_str(), held->kt_.out());
  if (code != 0) return held->ctx_.error(code, absl::StrCat("keytab ", name));
  return held;
}

absl::Status mirror_ccache(const Krb5Context& ctx, const std::string& from,
                           const std::string& to) {
  Krb5Ccache src(ctx), dst(ctx);
  krb5_error_code code = krb5_cc_resolve(ctx.get(), from.c_str(), src.out());
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", from));
  Krb5Principal princ(ctx);
  code = krb5_cc_get_principal(ctx.get(), src.get(), princ.out());
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", from));
  code = krb5_cc_resolve(ctx.get(), to.c_str(), dst.out());
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", to));
  code = krb5_cc_initialize(ctx.get(), dst.get(), princ.get());
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", to));
  code = krb5_cc_copy_creds(ctx.get(), src.get(), dst.get());
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", from));
  return absl::OkStatus();
}

absl::Status destroy_ccache(const Krb5Context& ctx, const std::string& name) {
  krb5_ccache cc = nullptr;
  krb5_error_code code = krb5_cc_resolve(ctx.get(), name.c_str(), &cc);
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", name));
  code = krb5_cc_destroy(ctx.get(), cc);  // closes it, also on failure
  if (code != 0) return ctx.error(code, absl::StrCat("ccache ", name));
  return absl::OkStatus();
}

absl::StatusOr<std::string> new_file_ccache(const Krb5Context& ctx) {
  Krb5Ccache cc(ctx);
  krb5_error_code code = krb5_cc_new_unique(ctx.get(), "FILE", nullptr, cc.out());
  if (code != 0) return ctx.error(code, "a new FILE ccache");
  char* name = nullptr;
  code = krb5_cc_get_full_name(ctx.get(), cc.get(), &name);
  if (code != 0) return ctx.error(code, "a new FILE ccache");
  std::string out = name;
  krb5_free_string(ctx.get(), name);
  return out;
}

absl::StatusOr<std::vector<int32_t>> permitted_enctypes(const Krb5Context& ctx) {
  krb5_enctype* list = nullptr;
  if (krb5_error_code code = krb5_get_permitted_enctypes(ctx.get(), &list); code != 0) {
    return absl::InternalError(
        absl::StrCat("krb5_get_permitted_enctypes: ", ctx.error_message(code)));
  }
  std::vector<int32_t> out;
  for (const krb5_enctype* e = list; e != nullptr && *e != 0; ++e) out.push_back(*e);
  krb5_free_enctypes(ctx.get(), list);
  return out;
}

}  // namespace gssgate::gss
