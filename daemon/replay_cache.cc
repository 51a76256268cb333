#include "daemon/replay_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <krb5/krb5.h>
#include <profile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {
namespace {

// ---- Finding AP-REQs: BER as MIT's decoder reads it (lib/krb5/asn.1/asn1_encode.c, get_tag) ----
//
// MIT accepts high tag numbers (accumulated into an unsigned int, so extra leading bits vanish),
// long-form lengths with leading zeros and indefinite lengths. Where a rule here could differ from
// MIT's, it is looser, so the AP-REQs found here are a superset of those MIT could decode: a
// primitive/constructed bit is never checked, indefinite lengths are taken for primitives too, and
// every field with the right tag is taken wherever it stands in its SEQUENCE.

constexpr int kUniversal = 0x00, kApplication = 0x40, kContext = 0x80;
// Recursion (indefinite lengths nest) and total work per token. A token that needs more cannot be
// searched, and then the step is refused: MIT's own limit on nesting is lower (32).
constexpr int kMaxDepth = 64;
constexpr size_t kElementsPerTokenByte = 64;

struct Element {
  int cls = 0;
  uint32_t number = 0;  // the low 32 bits, as MIT's unsigned tag number keeps them
  std::string_view contents;
  size_t size = 0;  // header, contents and any end-of-contents octets
};

class Reader {
 public:
  explicit Reader(size_t budget) : budget_(budget) {}
  bool exhausted() const { return exhausted_; }

  // The element at the start of `in`; nullopt if it does not fit there (or the work ran out).
  std::optional<Element> read(std::string_view in, int depth) {
    if (exhausted_ || depth > kMaxDepth || budget_ == 0) {
      exhausted_ = true;
      return std::nullopt;
    }
    --budget_;
    size_t at = 0;
    if (in.empty()) return std::nullopt;
    const uint8_t first = static_cast<uint8_t>(in[at++]);
    Element e;
    e.cls = first & 0xC0;
    e.number = first & 0x1F;
    if (e.number == 0x1F) {
      e.number = 0;
      uint8_t o = 0;
      do {
        if (at >= in.size()) return std::nullopt;
        o = static_cast<uint8_t>(in[at++]);
        e.number = (e.number << 7) | (o & 0x7F);
      } while (o & 0x80);
    }
    if (at >= in.size()) return std::nullopt;
    const uint8_t len0 = static_cast<uint8_t>(in[at++]);
    if (len0 == 0x80) {
      // Indefinite: elements up to a pair of zero octets.
      const size_t start = at;
      while (!(in.size() - at >= 2 && in[at] == 0 && in[at + 1] == 0)) {
        std::optional<Element> child = read(in.substr(at), depth + 1);
        if (!child) return std::nullopt;
        at += child->size;
      }
      e.contents = in.substr(start, at - start);
      e.size = at + 2;
      return e;
    }
    size_t length = len0;
    if (len0 & 0x80) {
      const size_t octets = len0 & 0x7F;
      if (octets > sizeof(size_t) || octets > in.size() - at) return std::nullopt;
      length = 0;
      for (size_t i = 0; i < octets; ++i) length = (length << 8) | static_cast<uint8_t>(in[at++]);
    }
    if (length > in.size() - at) return std::nullopt;
    e.contents = in.substr(at, length);
    e.size = at + length;
    return e;
  }

  // The elements `contents` holds, up to the first that does not fit.
  std::vector<Element> children(std::string_view contents, int depth) {
    std::vector<Element> out;
    while (!contents.empty()) {
      std::optional<Element> e = read(contents, depth);
      if (!e) break;
      contents.remove_prefix(e->size);
      out.push_back(*e);
    }
    return out;
  }

  // The elements of `contents` with this class and number.
  std::vector<Element> fields(std::string_view contents, int cls, uint32_t number, int depth) {
    std::vector<Element> out;
    for (const Element& e : children(contents, depth)) {
      if (e.cls == cls && e.number == number) out.push_back(e);
    }
    return out;
  }

 private:
  size_t budget_;
  bool exhausted_ = false;
};

// MIT's tag for an authenticator (k5_rc_tag_from_ciphertext, lib/krb5/rcache/rc_base.c): the
// last octets of its ciphertext, as many as its enctype's checksum, which is the integrity tag
// no one can make without the key; its file2 cache keeps the first 12 of them (zero-padded).
std::optional<ReplayTag> mit_tag(int64_t etype, std::string_view ciphertext) {
  unsigned int checksum = 0;
  // krb5_c_crypto_length reads MIT's enctype table only; it takes no context.
  if (etype < INT32_MIN || etype > INT32_MAX ||
      krb5_c_crypto_length(nullptr, static_cast<krb5_enctype>(etype), KRB5_CRYPTO_TYPE_CHECKSUM,
                           &checksum) != 0 ||
      checksum == 0 || ciphertext.size() < checksum) {
    return std::nullopt;  // MIT could not make a tag either, and refuses the AP-REQ
  }
  std::string_view trailer = ciphertext.substr(ciphertext.size() - checksum);
  ReplayTag tag{};
  std::memcpy(tag.data(), trailer.data(), std::min(trailer.size(), tag.size()));
  return tag;
}

// An INTEGER's value as MIT's k5_asn1_decode_int reads it: big-endian two's complement, at most
// eight octets.
std::optional<int64_t> integer_value(std::string_view contents) {
  if (contents.empty() || contents.size() > 8) return std::nullopt;
  uint64_t n = (static_cast<uint8_t>(contents[0]) & 0x80) ? ~uint64_t{0} : 0;
  for (char c : contents) n = (n << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(n);
}

// An OCTET STRING's value: its contents, and (should MIT ever join a constructed one's segments)
// the segments joined.
std::vector<std::string> octet_string_values(Reader& r, const Element& os, int depth) {
  std::vector<std::string> out{std::string(os.contents)};
  std::vector<Element> segments = r.fields(os.contents, kUniversal, 4, depth + 1);
  if (segments.empty()) return out;
  std::string joined;
  for (const Element& s : segments) joined.append(s.contents);
  out.push_back(std::move(joined));
  return out;
}

// AP-REQ ::= [APPLICATION 14] SEQUENCE { ..., authenticator [4] EncryptedData }
// EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] OCTET STRING }
// (RFC 4120 §5.5.1, §5.2.9; explicit tags.)
void ap_req_tags(Reader& r, const Element& ap_req, std::vector<ReplayTag>* out) {
  int d = 1;
  for (const Element& seq : r.fields(ap_req.contents, kUniversal, 16, d)) {
    for (const Element& auth : r.fields(seq.contents, kContext, 4, d + 1)) {
      for (const Element& enc : r.fields(auth.contents, kUniversal, 16, d + 2)) {
        std::vector<int64_t> etypes;
        for (const Element& field : r.fields(enc.contents, kContext, 0, d + 3)) {
          for (const Element& i : r.fields(field.contents, kUniversal, 2, d + 4)) {
            if (std::optional<int64_t> v = integer_value(i.contents)) etypes.push_back(*v);
          }
        }
        for (const Element& cipher : r.fields(enc.contents, kContext, 2, d + 3)) {
          for (const Element& os : r.fields(cipher.contents, kUniversal, 4, d + 4)) {
            for (const std::string& value : octet_string_values(r, os, d + 5)) {
              for (int64_t etype : etypes) {
                if (std::optional<ReplayTag> tag = mit_tag(etype, value)) out->push_back(*tag);
              }
            }
          }
        }
      }
    }
  }
}

// ---- The file: a 16-byte header, then records of a tag and its expiry (big-endian seconds) ----

constexpr char kHeader[] = "gssgated rcache\n";
constexpr size_t kHeaderSize = sizeof(kHeader) - 1;
constexpr size_t kRecordSize = sizeof(ReplayTag) + 8;
// The file is rewritten with only the live records once it holds this many and twice the live.
constexpr size_t kRewriteAtLeast = 4096;

void put_record(const ReplayTag& tag, int64_t expiry, std::string* out) {
  out->append(reinterpret_cast<const char*>(tag.data()), tag.size());
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((static_cast<uint64_t>(expiry) >> shift) & 0xFF));
  }
}

absl::Status write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(
          absl::StrCat("gssgated's replay cache ", path,
                       " cannot be written: ", n < 0 ? std::strerror(errno) : "short write",
                       "; free space there or fix its permissions"));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status check_owned(int fd, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a regular file of uid ", geteuid(), " that only it may write; remove it"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ReplayTag>> authenticator_tags(std::string_view token) {
  Reader r(kElementsPerTokenByte * (token.size() + 1));
  std::vector<ReplayTag> tags;
  for (size_t at = 0; at < token.size(); ++at) {
    // [APPLICATION 14]: 0x6E (0x4E primitive), or a high-tag-number form 0x7F/0x5F ...
    const uint8_t b = static_cast<uint8_t>(token[at]);
    if ((b & 0xDF) != 0x4E && (b & 0xDF) != 0x5F) continue;
    std::optional<Element> e = r.read(token.substr(at), 0);
    if (e && e->cls == kApplication && e->number == 14) ap_req_tags(r, *e, &tags);
    if (r.exhausted()) {
      return absl::ResourceExhaustedError(
          "the token nests too deeply or holds too many elements to be checked for a replay");
    }
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return tags;
}

absl::Duration replay_retention(absl::Duration clockskew) {
  return 2 * clockskew + absl::Minutes(1);
}

absl::Duration krb5_clockskew() {
  constexpr int kMitDefault = 300;
  int seconds = kMitDefault;
  krb5_context ctx = nullptr;
  if (krb5_init_context(&ctx) == 0) {
    profile_t profile = nullptr;
    if (krb5_get_profile(ctx, &profile) == 0) {
      int value = kMitDefault;
      const long err =
          profile_get_integer(profile, "libdefaults", "clockskew", nullptr, kMitDefault, &value);
      // A value this cannot read as seconds: keep records an hour rather than guess short.
      seconds = err != 0 ? 3600 : value > 0 ? value : kMitDefault;
      profile_release(profile);
    }
    krb5_free_context(ctx);
  }
  return absl::Seconds(seconds);
}

std::string replay_cache_dir() {
  for (const char* name : {"KRB5RCACHEDIR", "TMPDIR"}) {
    const char* dir = secure_getenv(name);
    if (dir != nullptr && *dir != '\0') return dir;
  }
  return "/var/tmp";
}

std::string replay_cache_path() { return replay_cache_dir() + "/gssgated.rcache"; }

std::string mit_replay_cache_path() {
  return absl::StrCat(replay_cache_dir(), "/krb5_", geteuid(), ".rcache2");
}

absl::StatusOr<std::unique_ptr<ReplayCache>> ReplayCache::open(const std::string& path,
                                                               absl::Duration retention) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  std::unique_ptr<ReplayCache> cache(new ReplayCache(path, fd, retention));
  if (absl::Status s = check_owned(fd, path); !s.ok()) return s;
  std::string bytes;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(bytes.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  if (!bytes.empty() && bytes.compare(0, kHeaderSize, kHeader, kHeaderSize) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a gssgated replay cache; move it away"));
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  absl::MutexLock lock(&cache->mu_);
  // A record cut short by a crash in the middle of a write is left out.
  for (size_t at = kHeaderSize; at + kRecordSize <= bytes.size(); at += kRecordSize) {
    ReplayTag tag;
    std::memcpy(tag.data(), bytes.data() + at, tag.size());
    uint64_t expiry = 0;
    for (size_t i = 0; i < 8; ++i)
      expiry = (expiry << 8) | static_cast<uint8_t>(bytes[at + sizeof(ReplayTag) + i]);
    const int64_t when = static_cast<int64_t>(expiry);
    if (when <= now) continue;
    auto [it, inserted] = cache->expiry_.try_emplace(tag, when);
    if (!inserted) it->second = std::max(it->second, when);
    cache->order_.emplace_back(when, tag);
  }
  std::sort(cache->order_.begin(), cache->order_.end());
  if (absl::Status s = cache->rewrite(); !s.ok()) return s;
  return cache;
}

absl::StatusOr<size_t> ReplayCache::take_mit_records(const std::string& file2, absl::Time now) {
  // lib/krb5/rcache/rc_file2.c: a 16-octet hash seed, then hash tables of 16-octet records (a
  // 12-octet tag and the big-endian 32-bit time MIT stored it), all zeros where empty.
  constexpr size_t kSeed = 16, kMitRecord = 16;
  int fd = ::open(file2.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return absl::UnavailableError(absl::StrCat("cannot open ", file2, ": ", std::strerror(errno)));
  }
  std::string bytes;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const int64_t seconds = absl::ToUnixSeconds(now);
  absl::MutexLock lock(&mu_);
  const int64_t keep = absl::ToInt64Seconds(retention_);
  size_t taken = 0;
  for (size_t at = kSeed; at + kMitRecord <= bytes.size(); at += kMitRecord) {
    ReplayTag tag;
    std::memcpy(tag.data(), bytes.data() + at, tag.size());
    uint32_t stamp = 0;
    for (size_t i = 0; i < 4; ++i) {
      stamp = (stamp << 8) | static_cast<uint8_t>(bytes[at + tag.size() + i]);
    }
    const int64_t until = static_cast<int64_t>(stamp) + keep;
    if (stamp == 0 || until <= seconds) continue;
    auto [it, inserted] = expiry_.try_emplace(tag, until);
    if (!inserted) it->second = std::max(it->second, until);
    order_.emplace_back(until, tag);
    ++taken;
  }
  if (taken == 0) return 0;
  std::sort(order_.begin(), order_.end());
  if (absl::Status s = rewrite(); !s.ok()) return s;
  return taken;
}

ReplayCache::ReplayCache(std::string path, int fd, absl::Duration retention)
    : path_(std::move(path)), fd_(fd), retention_(retention) {}

ReplayCache::~ReplayCache() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) close(fd_);
}

void ReplayCache::set_retention(absl::Duration retention) {
  absl::MutexLock lock(&mu_);
  retention_ = retention;
}

absl::Duration ReplayCache::retention() const {
  absl::MutexLock lock(&mu_);
  return retention_;
}

size_t ReplayCache::live() const {
  absl::MutexLock lock(&mu_);
  return expiry_.size();
}

size_t ReplayCache::records_in_file() const {
  absl::MutexLock lock(&mu_);
  return file_records_;
}

void ReplayCache::expire(int64_t now) {
  // `order_` is in arrival order; after a backward clock step a later record may expire before
  // an earlier one and then waits for it: kept longer, never shorter.
  while (!order_.empty() && order_.front().first <= now) {
    auto it = expiry_.find(order_.front().second);
    if (it != expiry_.end() && it->second <= now) expiry_.erase(it);
    order_.pop_front();
  }
}

absl::Status ReplayCache::record(const std::vector<ReplayTag>& tags, absl::Time now) {
  const int64_t seconds = absl::ToUnixSeconds(now);
  absl::MutexLock lock(&mu_);
  expire(seconds);
  for (const ReplayTag& tag : tags) {
    auto it = expiry_.find(tag);
    if (it != expiry_.end() && it->second > seconds) {
      return absl::AlreadyExistsError("the authenticator was accepted before: a replay");
    }
  }
  const int64_t until = seconds + absl::ToInt64Seconds(retention_);
  std::string bytes;
  for (const ReplayTag& tag : tags) put_record(tag, until, &bytes);
  if (absl::Status s = write_all(fd_, bytes, path_); !s.ok()) return s;
  for (const ReplayTag& tag : tags) {
    expiry_[tag] = until;
    order_.emplace_back(until, tag);
  }
  file_records_ += tags.size();
  if (file_records_ >= kRewriteAtLeast && file_records_ > 2 * expiry_.size()) {
    if (absl::Status s = rewrite(); !s.ok()) {
      spdlog::warn("replay cache: {}; appending to the old file", std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ReplayCache::rewrite() {
  // A new file renamed over the old one: a crash leaves one or the other, whole.
  const std::string next = absl::StrCat(path_, ".new");
  unlink(next.c_str());
  int fd =
      ::open(next.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot create ", next, ": ", std::strerror(errno)));
  }
  std::string bytes(kHeader, kHeaderSize);
  for (const auto& [tag, until] : expiry_) put_record(tag, until, &bytes);
  absl::Status s = write_all(fd, bytes, next);
  if (s.ok() && rename(next.c_str(), path_.c_str()) != 0) {
    s = absl::UnavailableError(
        absl::StrCat("cannot rename ", next, " to ", path_, ": ", std::strerror(errno)));
  }
  if (!s.ok()) {
    close(fd);
    unlink(next.c_str());
    return s;
  }
  close(fd_);
  fd_ = fd;
  file_records_ = expiry_.size();
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
