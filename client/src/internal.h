#pragma once

// Internal to libgssgate: the only client header that includes generated code (STYLE.md rule 1).
// Conversions between the public types and the wire messages live here and in internal.cc.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <optional>

#include <string>

#include "gssgate/connection.h"
#include "gssgate/creds.h"
#include "gssgate/errors.h"
#include "gssgate/names.h"
#include "gssgate/v1/gssgate.grpc.pb.h"

namespace gssgate {

namespace v1 = ::gssgate::v1;

namespace internal {

// What an unknown handle means to the caller, for the GSSError thrown on NOT_FOUND.
enum class HandleKind { kNone, kContext, kCred };

// How a call went, whichever transport made it.
struct CallStatus {
  grpc::Status status;
  bool released = false;  // the daemon released the handles the call carried
  bool not_run = false;   // refused before it ran, for want of a thread: may be made again
};

struct ConnectionAccess {
  static v1::Gssgate::Stub& stub(const Connection& c);
  // True when the connection speaks the wire transport (docs/wire.md) rather than gRPC.
  static bool wire(const Connection& c);
  // Starts a call: counts it, and takes the releases waiting for a call to carry them.
  static v1::Releases begin_call(const Connection& c);
  // After a failed call: queues `carried` again unless the daemon said it released them, so a
  // call refused before dispatch (gRPC's thread quota, the message size limit) loses no release.
  static void requeue(const Connection& c, v1::Releases carried);
  // The call over the wire transport: method `number` (1 + its index in service Gssgate).
  static CallStatus wire_call(const Connection& c, uint32_t number,
                              const google::protobuf::Message& request,
                              const v1::Releases& carried, google::protobuf::Message* reply,
                              std::chrono::system_clock::time_point deadline);
  // Releases a daemon handle this process no longer uses: queued for the next call to carry
  // when the connection defers releases (and the queue has room), else a DeleteSecContext or
  // ReleaseCred call now. Never throws (destructors call it); the daemon drops whatever is left
  // when the connection closes.
  static void release(const Connection& c, HandleKind kind, std::string handle) noexcept;
};

// The wire transport's number for the method whose request is `request_type`.
uint32_t wire_method_number(const google::protobuf::Descriptor* request_type);

// A gRPC call's deadline and the releases it carries (metadata); then what came of it.
void prepare_grpc(grpc::ClientContext* ctx, const v1::Releases& carried,
                  std::chrono::system_clock::time_point deadline);
CallStatus grpc_outcome(const grpc::ClientContext& ctx, grpc::Status status);

// True (after sleeping the attempt's backoff) when the daemon refused the call before running it
// for want of a thread (the caller's uid had its share of the daemon's threads busy, or gRPC's
// thread quota, max_threads, was used up), and the backoff ends before `deadline`: the call is
// then made again, as a queue on the client side.
// When it gives up after retrying, it says so in `status`'s message.
bool retry_after_not_run(CallStatus* status, int attempt,
                         std::chrono::system_clock::time_point started,
                         std::chrono::system_clock::time_point deadline);

// Turns a failed RPC into the public exception: ConnectionError (unreachable, deadline),
// PermissionDenied (policy), MissingContextError / MissingCredentialsError (NOT_FOUND: unknown
// handle), GeneralError (malformed request, limits, anything else).
[[noreturn]] void throw_rpc_error(const Connection& c, const grpc::Status& status, HandleKind kind);

// Calls `method` with a deadline, over the connection's transport; throws as above unless the
// RPC succeeded.
template <typename Request, typename Reply>
void call(const Connection& c,
          grpc::Status (v1::Gssgate::Stub::*method)(grpc::ClientContext*, const Request&, Reply*),
          const Request& request, Reply* reply, HandleKind kind = HandleKind::kNone) {
  const auto started = std::chrono::system_clock::now();
  const auto deadline = started + c.timeout();
  for (int attempt = 0;; ++attempt) {
    v1::Releases carried = ConnectionAccess::begin_call(c);
    CallStatus result;
    if (ConnectionAccess::wire(c)) {
      static const uint32_t number = wire_method_number(Request::descriptor());
      result = ConnectionAccess::wire_call(c, number, request, carried, reply, deadline);
    } else {
      grpc::ClientContext ctx;
      prepare_grpc(&ctx, carried, deadline);
      result = grpc_outcome(ctx, (ConnectionAccess::stub(c).*method)(&ctx, request, reply));
    }
    if (result.status.ok()) return;
    if (!result.released) ConnectionAccess::requeue(c, std::move(carried));
    if (!retry_after_not_run(&result, attempt, started, deadline)) {
      throw_rpc_error(c, result.status, kind);
    }
  }
}

GSSError::Info info_from(const v1::GssStatus& status, std::string token = {});
// Throws the GSSError subclass for `status` if it holds a calling or routine error — or, with
// `strict`, any supplementary bit too (python raises for replayed/out-of-sequence tokens).
void check(const v1::GssStatus& status, bool strict = false, std::string token = {});
// A GSSError made here rather than by the daemon (e.g. a context that was never started).
[[noreturn]] void raise_local(uint32_t major, const std::string& major_text,
                              const std::string& detail);

}  // namespace internal

struct NameAccess {
  static Name from_proto(const v1::Name& name, std::shared_ptr<Connection> connection);
  // Only value and type go out: the daemon re-imports the name for each call.
  static v1::Name to_proto(const Name& name);
};

struct CredentialsAccess {
  // Takes ownership of a credential handle the daemon returned.
  static Credentials adopt(std::shared_ptr<Connection> connection, std::string handle);
  static const std::string& handle(const Credentials& creds);
};

}  // namespace gssgate
