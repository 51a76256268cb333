#pragma once

// Credential stores a caller could redirect (issue #14, item 3).
//
// A rule may name stores where its callers can write: "/home/%u/http.keytab",
// "FILE:/tmp/krb5cc_%U". MIT opens store paths as whoever runs it and follows symbolic links, so
// handed such a path, a root gssgated would read a keytab or another uid's ccache that a caller
// linked there, and act as its principal for that caller. gssgated therefore gives MIT only store
// files that no one but root (or gssgated's own uid) can redirect. Every other file store is
// opened by gssgated itself, with the caller's filesystem identity (setfsuid/setfsgid and the
// caller's groups, on the calling thread only), without following a final link, and only if it
// is a regular file the caller owns; MIT then gets an in-memory mirror of it. Writes to such a
// ccache (StoreCred) are made the same way: a new file as the caller, renamed over the old one.
// docs/security.md has the threat and the tests.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gssgate::daemon {

// The file a store element names: "FILE:/p", "WRFILE:/p" and "/p" name "/p". Empty for the other
// types (MEMORY:, KEYRING:, KCM:, DIR:, ...), which are not one file.
std::string store_file(std::string_view value);

// Whether someone other than root and gssgated's own uid can change which file `path` names.
// Walking from "/": every directory must be theirs and writable by no one else (a sticky
// directory such as /tmp passes for an entry in it that is theirs), and every symbolic link on the
// way must be theirs, in such a directory. A name that does not exist yet is redirectable when its
// directory is writable by others. A relative path is redirectable. `why`, when given, says which
// component decided.
bool redirectable(const std::string& path, std::string* why = nullptr);

// Who a store is opened as: the caller's uid, primary gid and supplementary groups.
struct StoreOwner {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// A file descriptor that closes itself.
class OwnedFd {
 public:
  explicit OwnedFd(int fd = -1) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Opens `path` for reading as `owner` (see the file comment), without following a final symbolic
// link, and checks that it is a regular file owned by owner.uid. The messages name `what` ("ccache
// /home/a/cc") and never anything about the file a link points to. Errors:
//   PERMISSION_DENIED  a symbolic link, not a regular file, not owner.uid's, or unreadable by it;
//   NOT_FOUND          no such file.
absl::StatusOr<OwnedFd> open_as_owner(const std::string& path, const StoreOwner& owner,
                                      const std::string& what);

// Replaces `path` with `bytes` as `owner`: a new file (mode 0600) in the same directory, synced,
// then renamed over `path`; a link at `path` is replaced, never followed. PERMISSION_DENIED when
// gssgated cannot take the owner's identity (it does not run as root) or the owner may not write
// there; INTERNAL for other I/O errors.
absl::Status replace_as_owner(const std::string& path, std::string_view bytes,
                              const StoreOwner& owner, const std::string& what);

// What MIT is given for one store element of a rule.
struct MitStore {
  std::string value;        // the element's value, or the name of the mirror's current copy
  bool mirrored = false;    // a MEMORY copy gssgated made of the file, named by `value`
  uint64_t generation = 0;  // changes whenever the mirror's contents are replaced
};

// What a store is opened for.
enum class StoreUse {
  // A credential the caller gets a handle to, or anything else: a file only root can change is
  // given to MIT as it is.
  kCaller,
  // The shared default credentials (handlers/acquire.h, default_creds), which look the store up
  // again on every call: a keytab only root can change is given to MIT as a MEMORY copy too,
  // copied anew when the file changes, so MIT does not read the file on every accept. Accepts
  // with a caller's nameless acceptor handle run with them too (Entry::follows_default_acceptor).
  kSharedDefault,
};

// The store element `key` ("keytab", "client_keytab", "ccache") = `value` (expanded) of rule
// `rule` for `owner`, as MIT may open it: `value` itself unless redirectable(), else a MEMORY
// mirror of the file, read as its owner and copied anew when the file changes (its device, inode,
// size, mtime or ctime). A ccache that does not exist gives an empty mirror (MIT may fill it from
// a client keytab; the caller's file is not written). With kSharedDefault, a `keytab` that is not
// redirectable is mirrored the same way (read by gssgated itself; on any trouble reading it, it
// is left to MIT as before). Errors as open_as_owner (NOT_FOUND for a missing keytab),
// FAILED_PRECONDITION for a redirectable DIR: collection, INTERNAL when krb5 cannot read the file.
absl::StatusOr<MitStore> store_for_mit(const StoreOwner& owner, const std::string& rule,
                                       const std::string& key, const std::string& value,
                                       StoreUse use = StoreUse::kCaller);

}  // namespace gssgate::daemon
