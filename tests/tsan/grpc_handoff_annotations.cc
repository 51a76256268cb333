// Linked into every target of the tsan preset only, beside absl_mutex_annotations.cc. Debian's
// gRPC core is not built with ThreadSanitizer, so TSan cannot see how it hands an object from one
// thread to another: the sync server posts a request (grpc_server_request_registered_call, with a
// tag that is the C++ SyncRequest) on one thread and another thread takes the completed call out
// of the completion queue (grpc_completion_queue_next returns the same tag) and runs our handler.
// gRPC's C++ layer, compiled into gssgated from the headers, writes to that object on both
// threads; without the edge TSan reports those writes as races although gRPC's queue orders them.
//
// This file interposes the C-core entry points the C++ layer calls to post and take tags, and
// tells TSan what the queue guarantees: everything done before a tag is posted happens before
// whatever the thread that receives that tag does next (__tsan_release on posting,
// __tsan_acquire on receiving, on the tag's address). It adds no ordering gRPC does not already
// give. What that ordering means for our handlers: two that run at the same time are not ordered
// (their tags were posted before either ran), so their races are reported; a handler that runs
// after a thread finished another and posted the next tag is ordered after it, as it really is
// through gRPC's queue lock, so a race between two handlers that never overlap in time is not.

#include <dlfcn.h>
#include <grpc/grpc.h>
#include <link.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// The function of libgrpc itself. Not dlsym(RTLD_NEXT): a shared library of ours carries this
// shim too, and the next definition after it could be the executable's copy. The library is found
// among those loaded (a target that does not use gRPC never calls these functions), so the shim
// needs no gRPC symbol of its own and links into every target.
void* real(const char* name) {
  static void* library = [] {
    std::string path;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
          const char* base = std::strrchr(info->dlpi_name, '/');
          if (base != nullptr && std::strncmp(base, "/libgrpc.so", 11) == 0) {
            *static_cast<std::string*>(out) = info->dlpi_name;
            return 1;
          }
          return 0;
        },
        &path);
    return path.empty() ? nullptr : dlopen(path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  }();
  void* f = library != nullptr ? dlsym(library, name) : nullptr;
  if (f == nullptr) {
    std::fprintf(stderr, "tsan gRPC hand-off shim: %s not found\n", name);
    std::abort();
  }
  return f;
}

template <typename F>
F real_as(const char* name) {
  static_assert(sizeof(F) == sizeof(void*));
  return reinterpret_cast<F>(real(name));
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  static auto f = real_as<decltype(&grpc_call_start_batch)>("grpc_call_start_batch");
  __tsan_release(tag);
  return f(call, ops, nops, tag, reserved);
}

grpc_call_error grpc_server_request_call(grpc_server* server, grpc_call** call,
                                         grpc_call_details* details,
                                         grpc_metadata_array* request_metadata,
                                         grpc_completion_queue* cq_bound_to_call,
                                         grpc_completion_queue* cq_for_notification,
                                         void* tag_new) {
  static auto f = real_as<decltype(&grpc_server_request_call)>("grpc_server_request_call");
  __tsan_release(tag_new);
  return f(server, call, details, request_metadata, cq_bound_to_call, cq_for_notification, tag_new);
}

grpc_call_error grpc_server_request_registered_call(grpc_server* server, void* registered_method,
                                                    grpc_call** call, gpr_timespec* deadline,
                                                    grpc_metadata_array* request_metadata,
                                                    grpc_byte_buffer** optional_payload,
                                                    grpc_completion_queue* cq_bound_to_call,
                                                    grpc_completion_queue* cq_for_notification,
                                                    void* tag_new) {
  static auto f = real_as<decltype(&grpc_server_request_registered_call)>(
      "grpc_server_request_registered_call");
  __tsan_release(tag_new);
  return f(server, registered_method, call, deadline, request_metadata, optional_payload,
           cq_bound_to_call, cq_for_notification, tag_new);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  static auto f = real_as<decltype(&grpc_completion_queue_next)>("grpc_completion_queue_next");
  grpc_event event = f(cq, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
  return event;
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag, gpr_timespec deadline,
                                       void* reserved) {
  static auto f = real_as<decltype(&grpc_completion_queue_pluck)>("grpc_completion_queue_pluck");
  grpc_event event = f(cq, tag, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
  return event;
}

}  // extern "C"
