// Fuzz target: the policy parser (TOML → rules), then what the daemon does with a parsed policy:
// describe() for the start-up log and rule matching for a caller.

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/config.h"
#include "daemon/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<gssgate::daemon::Config> config = gssgate::daemon::parse_config(text, "fuzz.toml");
  if (!config.ok()) return 0;
  (void)gssgate::daemon::describe(*config);
  gssgate::daemon::Peer peer;
  peer.uid = 1000;
  peer.gid = 1000;
  peer.groups = {27, 1000};
  peer.cgroup = "/user.slice/user-1000.slice/user@1000.service/app.slice/docker-0123.scope";
  peer.exe = "/usr/lib/jvm/jdk17/bin/java";
  peer.exe_sha256 = std::string(64, 'a');
  for (const gssgate::daemon::ListenerSettings& listener : config->listeners) {
    peer.listener = listener.name;
    peer.pinned = true;
    (void)gssgate::daemon::match_rule(*config, peer);
    (void)gssgate::daemon::admit(*config, peer);
    peer.pinned = false;
    (void)gssgate::daemon::match_rule(*config, peer);
  }
  return 0;
}
