// Linked into every target of the tsan preset only. Debian's abseil is not built with
// ThreadSanitizer, so TSan cannot see absl::Mutex lock and unlock (they are futex and atomics
// inside libabsl_synchronization.so) and reports every access guarded by one as a race. This file
// interposes the absl::Mutex and absl::CondVar members gssgate and gRPC use: each tells TSan about
// the lock operation (sanitizer/tsan_interface.h) and calls the library's own function.
// Only calls from gssgate's own code are annotated (from_ours). With it, a report means a real
// unsynchronized access of ours, not an invisible mutex.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/synchronization/mutex.h"

namespace {

using Member = void (*)(absl::Mutex*);

// The function in libabsl_synchronization.so itself. Not dlsym(RTLD_NEXT): a shared library of
// ours carries this shim too, and RTLD_NEXT from the executable would find that copy (a nested,
// confusing second annotation). AssertHeld is not interposed, so its address names the library.
Member real(const char* mangled) {
  static void* library = [] {
    Dl_info info{};
    void (absl::Mutex::*probe)() const = &absl::Mutex::AssertHeld;
    void* address = nullptr;
    static_assert(sizeof(probe) >= sizeof(address));
    std::memcpy(&address, &probe, sizeof(address));
    if (dladdr(address, &info) == 0 || info.dli_fname == nullptr)
      return static_cast<void*>(nullptr);
    return dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  }();
  void* f = library != nullptr ? dlsym(library, mangled) : nullptr;
  if (f == nullptr) {
    std::fprintf(stderr, "tsan absl::Mutex shim: %s not found\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Member>(f);
}

// Whether the call came from gssgate's code rather than from inside Debian's gRPC, abseil or
// protobuf. Their own mutexes stay unannotated, as they were: gRPC hands the objects that hold them
// between threads through synchronization TSan cannot see either, so annotating only half of it
// would report races that are not there. Ours are annotated, so their races are real ones.
bool from_ours(void* return_address) {
  Dl_info info{};
  if (dladdr(return_address, &info) == 0 || info.dli_fname == nullptr) return true;
  const char* name = std::strrchr(info.dli_fname, '/');
  name = name == nullptr ? info.dli_fname : name + 1;
  for (const char* foreign :
       {"libgrpc", "libgpr", "libabsl", "libprotobuf", "libaddress_sorting", "libupb"}) {
    if (std::strncmp(name, foreign, std::strlen(foreign)) == 0) return false;
  }
  return true;
}

// The library's `mangled` function as a pointer of type F.
template <typename F>
F real_as(const char* mangled) {
  return reinterpret_cast<F>(real(mangled));
}

// Waiting releases the mutex and takes it again inside the library: tell TSan both, once (the
// library's WaitWithTimeout calls the public WaitWithDeadline, which lands here again).
thread_local int waiting = 0;

template <typename Wait>
auto around_wait(absl::Mutex* mu, bool ours, Wait wait) {
  if (waiting > 0) return wait();
  ++waiting;  // also when not ours: the nested call may look like ours (a tail call)
  if (ours) {
    __tsan_mutex_pre_unlock(mu, 0);
    __tsan_mutex_post_unlock(mu, 0);
  }
  auto result = wait();
  if (ours) {
    __tsan_mutex_pre_lock(mu, 0);
    __tsan_mutex_post_lock(mu, 0, 0);
  }
  --waiting;
  return result;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const Member lock = real("_ZN4absl7debian35Mutex4LockEv");
  if (!from_ours(__builtin_return_address(0))) return lock(this);
  __tsan_mutex_pre_lock(this, 0);
  lock(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::Unlock() {
  static const Member unlock = real("_ZN4absl7debian35Mutex6UnlockEv");
  if (!from_ours(__builtin_return_address(0))) return unlock(this);
  __tsan_mutex_pre_unlock(this, 0);
  unlock(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderLock() {
  static const Member lock = real("_ZN4absl7debian35Mutex10ReaderLockEv");
  if (!from_ours(__builtin_return_address(0))) return lock(this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  lock(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

void Mutex::ReaderUnlock() {
  static const Member unlock = real("_ZN4absl7debian35Mutex12ReaderUnlockEv");
  if (!from_ours(__builtin_return_address(0))) return unlock(this);
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  unlock(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

bool Mutex::TryLock() {
  using F = bool (*)(Mutex*);
  static const F try_lock = real_as<F>("_ZN4absl7debian35Mutex7TryLockEv");
  if (!from_ours(__builtin_return_address(0))) return try_lock(this);
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool locked = try_lock(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
                         0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  using F = bool (*)(Mutex*);
  static const F try_lock = real_as<F>("_ZN4absl7debian35Mutex13ReaderTryLockEv");
  if (!from_ours(__builtin_return_address(0))) return try_lock(this);
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  const bool locked = try_lock(this);
  __tsan_mutex_post_lock(this, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void CondVar::Wait(Mutex* mu) {
  using F = void (*)(CondVar*, Mutex*);
  static const F wait = real_as<F>("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  around_wait(mu, from_ours(__builtin_return_address(0)), [&] {
    wait(this, mu);
    return 0;
  });
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  using F = bool (*)(CondVar*, Mutex*, absl::Duration);
  static const F wait =
      real_as<F>("_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return around_wait(mu, from_ours(__builtin_return_address(0)),
                     [&] { return wait(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  using F = bool (*)(CondVar*, Mutex*, absl::Time);
  static const F wait =
      real_as<F>("_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return around_wait(mu, from_ours(__builtin_return_address(0)),
                     [&] { return wait(this, mu, deadline); });
}

void Mutex::Await(const Condition& cond) {
  using F = void (*)(Mutex*, const Condition&);
  static const F await = real_as<F>("_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  around_wait(this, from_ours(__builtin_return_address(0)), [&] {
    await(this, cond);
    return 0;
  });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  using F = bool (*)(Mutex*, const Condition&, absl::Duration);
  static const F await =
      real_as<F>("_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return around_wait(this, from_ours(__builtin_return_address(0)),
                     [&] { return await(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  using F = bool (*)(Mutex*, const Condition&, absl::Time);
  static const F await =
      real_as<F>("_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return around_wait(this, from_ours(__builtin_return_address(0)),
                     [&] { return await(this, cond, deadline); });
}

ABSL_NAMESPACE_END
}  // namespace absl
