// Fuzz target: the policy parser (TOML → rules), then what the daemon does with a parsed policy:
// describe() for the start-up log and rule matching for a caller.

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<gssgate::daemon::Config> config = gssgate::daemon::parse_config(text, "fuzz.toml");
  if (!config.ok()) return 0;
  (void)gssgate::daemon::describe(*config);
  (void)gssgate::daemon::match_rule(*config, 1000, 1000, {27, 1000},
                                    "/system.slice/docker-0123.scope");
  return 0;
}
