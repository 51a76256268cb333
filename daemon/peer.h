#pragma once

// Who is calling: what the kernel said when the connection was made, and what the daemon read of
// the connecting process while it could pin it (listener.cc, pin_process). Policy matches rules
// against this (policy.h). Nothing is read again later: a process that execs another binary or
// moves to another cgroup after connecting keeps, on that connection, the identity it had at
// accept (docs/policy.md, "Identity is pinned at accept").

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gssgate::daemon {

struct Peer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  uint64_t connection = 0;    // unique per accepted connection, never reused
  // The listener ([[listener]] name) the connection came through: only its rules apply.
  std::string listener;
  // The process's cgroup v2 path at connect ("0::" line of /proc/PID/cgroup); "" if unreadable.
  std::string cgroup;
  // Whether cgroup and exe were read from the process that connected: a pidfd of it stayed alive
  // across the reads and it still ran as the connecting uid. Rules with process matchers
  // (cgroups, systemd_units, executables, executable_sha256) match only pinned callers.
  bool pinned = false;
  // Why it could not be pinned, for the denial text ("" when pinned or not tried).
  std::string unpinned_why;
  // The executable, /proc/PID/exe as the daemon's mount namespace resolves it ("" if unknown).
  std::string exe;
  // Its SHA-256 (lowercase hex), of the very file the process runs (read through /proc/PID/exe);
  // taken only when some rule matches by executable_sha256, else "".
  std::string exe_sha256;
  // Why exe (or its digest, when one was wanted) is unknown although the process was pinned.
  std::string exe_why;
};

}  // namespace gssgate::daemon
