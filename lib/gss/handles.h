#pragma once

// One move-only RAII type per GSSAPI handle. Each owns exactly one handle and releases it with the
// matching gss_release_* / gss_delete_sec_context call. Not thread-safe: one gss_ctx_id_t must
// never be used by two threads at once (the daemon's handle table locks per handle).

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <string.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gssgate::gss {

namespace internal {
inline OM_uint32 delete_context(OM_uint32* minor, gss_ctx_id_t* ctx) {
  return gss_delete_sec_context(minor, ctx, GSS_C_NO_BUFFER);
}
}  // namespace internal

template <typename T, OM_uint32 (*Release)(OM_uint32*, T*)>
class GssHandle {
 public:
  GssHandle() = default;
  // Takes ownership of `h`.
  explicit GssHandle(T h) : h_(h) {}
  GssHandle(GssHandle&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
  GssHandle& operator=(GssHandle&& other) noexcept {
    if (this != &other) reset(std::exchange(other.h_, nullptr));
    return *this;
  }
  GssHandle(const GssHandle&) = delete;
  GssHandle& operator=(const GssHandle&) = delete;
  // A release failure cannot be acted on here (the handle is gone either way), so it is dropped.
  ~GssHandle() { reset(); }

  T get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }
  // For a GSSAPI out-parameter: releases the current handle, then returns the slot to fill.
  T* out() {
    reset();
    return &h_;
  }
  // For in/out parameters GSSAPI updates in place (the context of init/accept, export).
  T* inout() { return &h_; }
  // Gives up ownership.
  T release() { return std::exchange(h_, nullptr); }
  void reset(T h = nullptr) {
    if (h_ != nullptr) {
      OM_uint32 minor = 0;
      Release(&minor, &h_);
    }
    h_ = h;
  }

 private:
  T h_ = nullptr;
};

using NameHandle = GssHandle<gss_name_t, gss_release_name>;
using CredHandle = GssHandle<gss_cred_id_t, gss_release_cred>;
using ContextHandle = GssHandle<gss_ctx_id_t, internal::delete_context>;
using OidSetHandle = GssHandle<gss_OID_set, gss_release_oid_set>;

// A buffer allocated by GSSAPI (output tokens, displayed names, exported names).
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept : buf_(std::exchange(other.buf_, gss_buffer_desc{0, nullptr})) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      reset();
      buf_ = std::exchange(other.buf_, gss_buffer_desc{0, nullptr});
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  gss_buffer_t out() {
    reset();
    return &buf_;
  }
  std::string_view view() const {
    return buf_.value == nullptr
               ? std::string_view()
               : std::string_view(static_cast<const char*>(buf_.value), buf_.length);
  }
  std::string str() const { return std::string(view()); }
  size_t size() const { return buf_.length; }
  void reset() {
    if (buf_.value != nullptr || buf_.length != 0) {
      OM_uint32 minor = 0;
      gss_release_buffer(&minor, &buf_);
    }
    buf_ = gss_buffer_desc{0, nullptr};
  }

 private:
  gss_buffer_desc buf_{0, nullptr};
};

// A read-only view of caller memory as a gss_buffer_desc, for input parameters. GSSAPI takes
// non-const pointers for inputs it never writes, hence the const_cast.
inline gss_buffer_desc input_buffer(std::string_view bytes) {
  return gss_buffer_desc{bytes.size(), const_cast<char*>(bytes.data())};
}

// Copies a buffer set GSSAPI returned into *values (cleared first; filled only when `keep`), wipes
// its elements (an inquiry may return a session key: gss_release_buffer_set only frees) and
// releases it.
inline void take_buffer_set(gss_buffer_set_t* set, bool keep, std::vector<std::string>* values) {
  values->clear();
  if (*set == GSS_C_NO_BUFFER_SET) return;
  for (size_t i = 0; i < (*set)->count; ++i) {
    gss_buffer_desc& element = (*set)->elements[i];
    if (keep) values->emplace_back(static_cast<const char*>(element.value), element.length);
    if (element.value != nullptr) explicit_bzero(element.value, element.length);
  }
  OM_uint32 ignored = 0;
  gss_release_buffer_set(&ignored, set);
}

}  // namespace gssgate::gss
