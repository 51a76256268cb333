#pragma once

// gssgated's replay cache for Kerberos AP-REQs, in place of MIT's file2 cache (docs/daemon.md,
// "Replay cache"; docs/performance.md, eleventh run).
//
// MIT's acceptor keeps its replay cache in a file it opens, locks, reads and closes at every
// accept (~17 system calls of gssgated's ~48 per accept). This one keeps the same records in
// memory and writes each to the end of a file with one pwrite(2), so a restart still refuses a
// replay: the file is read back when gssgated starts.
//
// A record is what MIT's file2 cache records: the first 12 octets of the authenticator's integrity
// tag, the end of its ciphertext (k5_rc_tag_from_ciphertext, MIT 1.18+). So MIT's live records
// are taken over when gssgated starts (`take_mit_records`): switching from MIT's cache to this
// one opens no window. gssgated finds the tag without decrypting anything: `authenticator_tags`
// takes every AP-REQ that any byte offset of the token holds (a krb5 token, raw or framed, or one
// inside SPNEGO, IAKERB or NegoEx), decoded with rules at least as loose as MIT's decoder, so
// whatever AP-REQ MIT finds in the token, this finds too (at most 4 per token; more, or a token
// too costly to search, is refused). The caller records the tags once MIT verified an AP-REQ in
// the step (with KRB5RCACHENAME=none:, daemon/main.cc), as MIT records after it decrypted the
// authenticator; a tag seen before is a replay and the step fails.
//
// A record lives from when it was accepted for `retention`, as it is at the moment it is looked
// at: twice krb5.conf's clockskew and a minute. MIT refuses an authenticator whose time is more
// than the skew away from now, and a recorded one was accepted within the skew of its time, so
// after twice the skew no replay of it can pass MIT's check.
//
// Thread-safety: ReplayCache's methods are thread-safe (one mutex; `record` holds it across its
// write, so two steps with the same tag cannot both pass).

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace gssgate::daemon {

// The first 12 octets of an authenticator's integrity tag, as MIT's file2 cache keeps them.
using ReplayTag = std::array<uint8_t, 12>;

// The tags of every AP-REQ in `token` (empty: none). RESOURCE_EXHAUSTED when the token's
// structure is too deep or too costly to search (then no one can say what MIT would find in it,
// and the step must not run).
absl::StatusOr<std::vector<ReplayTag>> authenticator_tags(std::string_view token);

// Whether a reply MIT's acceptor made is, or carries as SPNEGO's responseToken, a Kerberos AP-REP
// (raw, DCE style, or framed with TOK_ID 02 00): the sign that it verified an AP-REQ in that step.
bool holds_ap_rep(std::string_view reply);

class ReplayCache {
 public:
  // Opens `path` (creating it 0600), takes back its records that are still live and rewrites it
  // with only those. Fails when the file is not a regular file of this euid writable by no one
  // else (/var/tmp is everyone's), is not a gssgated replay cache, or is held (flock) by another
  // process.
  static absl::StatusOr<std::unique_ptr<ReplayCache>> open(const std::string& path,
                                                           absl::Duration retention);
  ~ReplayCache();
  ReplayCache(const ReplayCache&) = delete;
  ReplayCache& operator=(const ReplayCache&) = delete;

  // Records `tags`, seen at `now`. ALREADY_EXISTS (and nothing recorded) if one of them is live: a
  // replay. Otherwise writes them at the end of the file; if that fails, the file is cut back to
  // where it ended, nothing is recorded and the error names the file (the caller fails the step,
  // as MIT fails an accept its cache cannot write).
  absl::Status record(const std::vector<ReplayTag>& tags, absl::Time now);

  // Takes the live records of MIT's file2 replay cache at `file2` (made before this cache took
  // over; 12-octet tags, MIT 1.18+ layout): each is kept for the retention from when MIT stored
  // it, and written to this cache's file. Returns how many; no file, or one MIT would not use (not
  // a regular file of this euid that only it may write), is 0. A switch from MIT's cache to this
  // one thus lets no authenticator MIT accepted be replayed.
  absl::StatusOr<size_t> take_mit_records(const std::string& file2, absl::Time now);

  // For a krb5.conf whose clockskew changed: if longer than the current retention, every record
  // now lives this long from when it was accepted; a shorter one is ignored until the next start
  // (daemon/main.cc sets it at SIGHUP and at each tick of its loop).
  void set_retention(absl::Duration retention);
  absl::Duration retention() const;

  const std::string& path() const { return path_; }
  // Live records in memory, and records in the file (live or not, until the next rewrite).
  size_t live() const;
  size_t records_in_file() const;

 private:
  ReplayCache(std::string path, int fd, absl::Duration retention);
  // Adds a record seen at `seen` unless it is no longer live at `now` or already known as seen
  // as late; true if added. Appends to `order_` unsorted: the caller sorts it after a batch.
  bool remember(const ReplayTag& tag, int64_t seen, int64_t now, int64_t keep)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void expire(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the file holds, live or not: every byte after the header is whole records (a write
  // that fails is cut back off).
  size_t file_records() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status rewrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  off_t end_ ABSL_GUARDED_BY(mu_) = 0;  // where the next record goes
  absl::Duration retention_ ABSL_GUARDED_BY(mu_);
  // tag -> when it was accepted (Unix seconds); `order_` holds the same by that time, so expiry
  // pops from its front. A record lives until its time plus the retention of the moment.
  absl::flat_hash_map<ReplayTag, int64_t> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<int64_t, ReplayTag>> order_ ABSL_GUARDED_BY(mu_);
};

// Twice `clockskew` (krb5.conf's [libdefaults] clockskew, MIT's default 300 s) and a minute.
absl::Duration replay_retention(absl::Duration clockskew);
// krb5.conf's clockskew as MIT reads it for a new context; MIT's default when it cannot be read.
absl::Duration krb5_clockskew();
// MIT's replay cache directory, as MIT finds it: KRB5RCACHEDIR, else TMPDIR, else /var/tmp.
std::string replay_cache_dir();
// Where gssgated keeps its replay cache: gssgated_EUID.rcache in that directory (one per uid,
// as MIT's, so a daemon run as root once and as a service user later never shares a file).
std::string replay_cache_path();
// MIT's default file2 cache of this euid there (krb5_EUID.rcache2).
std::string mit_replay_cache_path();

}  // namespace gssgate::daemon
