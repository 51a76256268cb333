// A self-test of the tsan preset's settings: with the same TSAN_OPTIONS and suppressions as the
// concurrency tests, an unsynchronized write from two threads in our code must still be reported
// ("race"), and the same writes under an absl::Mutex must not ("locked": the Mutex is visible to
// TSan only through tests/tsan/absl_mutex_annotations.cc). Without it, a setting that silenced
// everything would look like a clean run.

#include <cstring>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace {

int counter = 0;
absl::Mutex mu;

void bump(bool locked) {
  for (int i = 0; i < 1000; ++i) {
    if (locked) {
      absl::MutexLock lock(&mu);
      ++counter;
    } else {
      ++counter;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool locked = argc > 1 && std::strcmp(argv[1], "locked") == 0;
  std::thread a(bump, locked), b(bump, locked);
  a.join();
  b.join();
  return counter > 0 ? 0 : 1;
}
