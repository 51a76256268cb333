#include "daemon/replay_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <krb5/krb5.h>
#include <profile.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
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
// a field is the first element with its tag wherever it stands in its SEQUENCE (ap_req_tag).

constexpr int kUniversal = 0x00, kApplication = 0x40, kContext = 0x80;
// Recursion (indefinite lengths nest) and total work per token. A token that needs more cannot be
// searched, and then the step is refused: MIT's own limit on nesting is lower (32).
constexpr int kMaxDepth = 64;
constexpr size_t kElementsPerTokenByte = 64;
// A real token holds one AP-REQ; a few more allow for chance structure inside a ciphertext. More
// is refused, so no token records more than this.
constexpr size_t kMaxApReqsPerToken = 4;

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
  bool spend() {
    if (budget_ == 0) exhausted_ = true;
    if (exhausted_) return false;
    --budget_;
    return true;
  }

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
        // Each octet of a long tag number costs work too, or one with a megabyte of them, read
        // again from every candidate before it, would cost no budget.
        if (!spend()) return std::nullopt;
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

  // The first element of `contents` with this class and number, reading no further than it.
  std::optional<Element> first(std::string_view contents, int cls, uint32_t number, int depth) {
    while (!contents.empty()) {
      std::optional<Element> e = read(contents, depth);
      if (!e) return std::nullopt;
      if (e->cls == cls && e->number == number) return e;
      contents.remove_prefix(e->size);
    }
    return std::nullopt;
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

// An INTEGER's value as MIT's k5_asn1_decode_int reads it: big-endian two's complement (MIT
// takes up to eight octets, nine with a leading zero; the low 64 bits of any length here, the same
// value wherever MIT takes it).
std::optional<int64_t> integer_value(std::string_view contents) {
  if (contents.empty()) return std::nullopt;
  uint64_t n = (static_cast<uint8_t>(contents[0]) & 0x80) ? ~uint64_t{0} : 0;
  for (char c : contents) n = (n << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(n);
}

// AP-REQ ::= [APPLICATION 14] SEQUENCE { ..., authenticator [4] EncryptedData }
// EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] OCTET STRING }
// (RFC 4120 §5.5.1, §5.2.9; explicit tags.) MIT's decode_sequence matches elements to fields in
// order, each field at most once, so the field it decodes is the first element with the field's
// tag (its first element, for an explicit tag); that is the one taken here, so a candidate gives
// at most one tag. The construction bit is not checked (MIT's is stricter).
std::optional<ReplayTag> ap_req_tag(Reader& r, const Element& ap_req) {
  int d = 1;
  std::optional<Element> seq = r.first(ap_req.contents, kUniversal, 16, d);
  if (!seq) return std::nullopt;
  std::optional<Element> auth = r.first(seq->contents, kContext, 4, d + 1);
  if (!auth) return std::nullopt;
  std::optional<Element> enc = r.first(auth->contents, kUniversal, 16, d + 2);
  if (!enc) return std::nullopt;
  std::optional<Element> etype_field = r.first(enc->contents, kContext, 0, d + 3);
  if (!etype_field) return std::nullopt;
  std::optional<Element> etype = r.first(etype_field->contents, kUniversal, 2, d + 4);
  if (!etype) return std::nullopt;
  std::optional<int64_t> value = integer_value(etype->contents);
  if (!value) return std::nullopt;
  // The cipher follows the etype.
  const size_t after = static_cast<size_t>(etype_field->contents.data() - enc->contents.data()) +
                       etype_field->contents.size();
  std::optional<Element> cipher = r.first(enc->contents.substr(after), kContext, 2, d + 3);
  if (!cipher) return std::nullopt;
  std::optional<Element> octets = r.first(cipher->contents, kUniversal, 4, d + 4);
  if (!octets) return std::nullopt;
  return mit_tag(*value, octets->contents);
}

// ---- The file: a 16-byte header, then records of a tag and when it was accepted (big-endian
// Unix seconds) ----

constexpr char kHeader[] = "gssgated rcache\n";
constexpr size_t kHeaderSize = sizeof(kHeader) - 1;
constexpr size_t kRecordSize = sizeof(ReplayTag) + 8;
// The file is rewritten with only the live records once it holds this many and twice the live.
constexpr size_t kRewriteAtLeast = 4096;

void put_record(const ReplayTag& tag, int64_t seen, std::string* out) {
  out->append(reinterpret_cast<const char*>(tag.data()), tag.size());
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((static_cast<uint64_t>(seen) >> shift) & 0xFF));
  }
}

absl::Status write_error(const std::string& path, int err) {
  return absl::UnavailableError(absl::StrCat("gssgated's replay cache ", path,
                                             " cannot be written: ", std::strerror(err),
                                             "; free space there or fix its permissions"));
}

// Writes `bytes` at `offset`; on failure cuts the file back to `offset`, so a record is never
// left in part (the next record would be read out of step).
absl::Status write_at(int fd, std::string_view bytes, off_t offset, const std::string& path) {
  off_t at = offset;
  while (!bytes.empty()) {
    ssize_t n = pwrite(fd, bytes.data(), bytes.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      if (ftruncate(fd, offset) != 0) {
        spdlog::error("replay cache: cannot cut {} back to {} octets: {}", path, offset,
                      std::strerror(errno));
      }
      return write_error(path, err);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    at += n;
  }
  return absl::OkStatus();
}

// A regular file of this euid that no one else may write: MIT asks the same of its own.
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

// Reads `fd` in pieces, handing each whole `record`-sized piece after `skip` octets to `take`.
absl::Status read_records(int fd, size_t skip, size_t record, const std::string& path,
                          const std::function<void(std::string_view)>& take) {
  std::string pending;
  char buf[1 << 16];
  size_t offset = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) return absl::OkStatus();  // a record cut short at the end is no record
    std::string_view chunk(buf, static_cast<size_t>(n));
    if (offset < skip) chunk.remove_prefix(std::min(chunk.size(), skip - offset));
    offset += static_cast<size_t>(n);
    pending.append(chunk);
    size_t at = 0;
    for (; at + record <= pending.size(); at += record) {
      take(std::string_view(pending).substr(at, record));
    }
    pending.erase(0, at);
  }
}

uint64_t big_endian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
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
    if (e && e->cls == kApplication && e->number == 14) {
      if (std::optional<ReplayTag> tag = ap_req_tag(r, *e)) {
        if (std::find(tags.begin(), tags.end(), *tag) == tags.end()) tags.push_back(*tag);
        if (tags.size() > kMaxApReqsPerToken) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "the token holds more than ", kMaxApReqsPerToken,
              " Kerberos AP-REQs; no initiator sends that (gssgated's replay cache refuses it)"));
        }
      }
    }
    if (r.exhausted()) {
      return absl::ResourceExhaustedError(
          "the token nests too deeply or holds too many elements to be checked for a replay");
    }
  }
  return tags;
}

namespace {

// A krb5 reply token that is an AP-REP: raw (DCE style), or framed (RFC 2743 §3.1: an OID, then
// TOK_ID 02 00, RFC 4121 §4.1). Any OID is taken (the krb5 ones or IAKERB's in practice): a
// false "yes" only records an AP-REQ MIT verified anyway.
bool is_ap_rep_token(Reader& r, std::string_view token) {
  std::optional<Element> outer = r.read(token, 0);
  if (!outer) return false;
  if (outer->cls == kApplication && outer->number == 15) return true;
  if (outer->cls != kApplication || outer->number != 0) return false;
  std::optional<Element> oid = r.read(outer->contents, 1);
  if (!oid || oid->cls != kUniversal || oid->number != 6) return false;
  std::string_view rest = outer->contents.substr(oid->size);
  if (rest.size() < 2 || rest[0] != '\x02' || rest[1] != '\x00') return false;
  std::optional<Element> rep = r.read(rest.substr(2), 1);
  return rep && rep->cls == kApplication && rep->number == 15;
}

}  // namespace

bool holds_ap_rep(std::string_view reply) {
  // Only where MIT puts one: the reply itself, or a SPNEGO NegTokenResp's responseToken (RFC 4178
  // §4.2.2: [1] SEQUENCE { ..., responseToken [2] OCTET STRING }). Not anywhere in the reply: an
  // IAKERB reply carries the KDC's answer, which echoes names the sender chose.
  Reader r(kElementsPerTokenByte * (reply.size() + 1));
  if (is_ap_rep_token(r, reply)) return true;
  std::optional<Element> resp = r.read(reply, 0);
  if (!resp || resp->cls != kContext || resp->number != 1) return false;
  std::optional<Element> seq = r.first(resp->contents, kUniversal, 16, 1);
  if (!seq) return false;
  std::optional<Element> field = r.first(seq->contents, kContext, 2, 2);
  if (!field) return false;
  std::optional<Element> octets = r.first(field->contents, kUniversal, 4, 3);
  return octets && is_ap_rep_token(r, octets->contents);
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

std::string replay_cache_path() {
  return absl::StrCat(replay_cache_dir(), "/gssgated_", geteuid(), ".rcache");
}

std::string mit_replay_cache_path() {
  return absl::StrCat(replay_cache_dir(), "/krb5_", geteuid(), ".rcache2");
}

absl::StatusOr<std::unique_ptr<ReplayCache>> ReplayCache::open(const std::string& path,
                                                               absl::Duration retention) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  std::unique_ptr<ReplayCache> cache(new ReplayCache(path, fd, retention));
  if (absl::Status s = check_owned(fd, path); !s.ok()) return s;
  // One daemon per file: two would each miss the other's records.
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        " is in use by another process (another gssgated of this uid?): ", std::strerror(errno)));
  }
  char header[kHeaderSize];
  const ssize_t got = pread(fd, header, sizeof(header), 0);
  if (got > 0 &&
      (static_cast<size_t>(got) != kHeaderSize || std::memcmp(header, kHeader, kHeaderSize) != 0)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a gssgated replay cache; move it away"));
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  absl::MutexLock lock(&cache->mu_);
  const int64_t keep = absl::ToInt64Seconds(retention);
  absl::Status read = read_records(fd, kHeaderSize, kRecordSize, path, [&](std::string_view r) {
    ReplayTag tag;
    std::memcpy(tag.data(), r.data(), tag.size());
    // A time ahead of this clock (it was set back) counts as now.
    cache->remember(tag, std::min(static_cast<int64_t>(big_endian(r.substr(tag.size()))), now), now,
                    keep);
  });
  if (!read.ok()) return read;
  std::sort(cache->order_.begin(), cache->order_.end());
  if (absl::Status s = cache->rewrite(); !s.ok()) return s;
  return cache;
}

absl::StatusOr<size_t> ReplayCache::take_mit_records(const std::string& file2, absl::Time now) {
  // lib/krb5/rcache/rc_file2.c: a 16-octet hash seed, then hash tables of 16-octet records (a
  // 12-octet tag and the big-endian 32-bit time MIT stored it), all zeros where empty.
  constexpr size_t kSeed = 16, kMitRecord = 16;
  int fd = ::open(file2.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    // No file, or one that is not MIT's cache of this uid (a link, another's): nothing to take.
    if (errno != ENOENT) {
      spdlog::warn("replay cache: not taking records from {}: {}", file2, std::strerror(errno));
    }
    return 0;
  }
  // MIT uses only a file of its euid that no one else may write; any other is not its cache.
  if (absl::Status s = check_owned(fd, file2); !s.ok()) {
    close(fd);
    spdlog::warn("replay cache: not taking records from {}: {}", file2, std::string(s.message()));
    return 0;
  }
  const int64_t seconds = absl::ToUnixSeconds(now);
  absl::MutexLock lock(&mu_);
  const int64_t keep = absl::ToInt64Seconds(retention_);
  size_t taken = 0;
  absl::Status read = read_records(fd, kSeed, kMitRecord, file2, [&](std::string_view r) {
    ReplayTag tag;
    std::memcpy(tag.data(), r.data(), tag.size());
    const int64_t stamp = static_cast<int64_t>(big_endian(r.substr(tag.size(), 4)));
    if (stamp != 0 && remember(tag, std::min(stamp, seconds), seconds, keep)) ++taken;
  });
  close(fd);
  if (!read.ok()) return read;
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

bool ReplayCache::remember(const ReplayTag& tag, int64_t seen, int64_t now, int64_t keep) {
  if (seen + keep <= now) return false;
  auto [it, inserted] = seen_.try_emplace(tag, seen);
  if (!inserted) {
    if (it->second >= seen) return false;
    it->second = seen;
  }
  order_.emplace_back(seen, tag);  // the caller sorts `order_` once it has added them all
  return true;
}

void ReplayCache::set_retention(absl::Duration retention) {
  absl::MutexLock lock(&mu_);
  // Never shorter within a run: a krb5.conf caught in the middle of an edit must not drop records
  // MIT would still take a replay of. A lowered skew applies at the next start.
  retention_ = std::max(retention_, retention);
}

absl::Duration ReplayCache::retention() const {
  absl::MutexLock lock(&mu_);
  return retention_;
}

size_t ReplayCache::live() const {
  absl::MutexLock lock(&mu_);
  return seen_.size();
}

size_t ReplayCache::records_in_file() const {
  absl::MutexLock lock(&mu_);
  return file_records();
}

size_t ReplayCache::file_records() const {
  const size_t end = static_cast<size_t>(end_);
  return end < kHeaderSize ? 0 : (end - kHeaderSize) / kRecordSize;
}

void ReplayCache::expire(int64_t now) {
  // The retention applies when a record is looked at, as MIT's skew does to its file's records:
  // a longer one keeps every record still here longer.
  const int64_t keep = absl::ToInt64Seconds(retention_);
  while (!order_.empty() && order_.front().first + keep <= now) {
    auto it = seen_.find(order_.front().second);
    if (it != seen_.end() && it->second == order_.front().first) seen_.erase(it);
    order_.pop_front();
  }
}

absl::Status ReplayCache::record(const std::vector<ReplayTag>& tags, absl::Time now) {
  const int64_t seconds = absl::ToUnixSeconds(now);
  absl::MutexLock lock(&mu_);
  expire(seconds);
  for (const ReplayTag& tag : tags) {
    if (seen_.contains(tag)) {
      return absl::AlreadyExistsError("the authenticator was accepted before: a replay");
    }
  }
  std::string bytes;
  for (const ReplayTag& tag : tags) put_record(tag, seconds, &bytes);
  if (absl::Status s = write_at(fd_, bytes, end_, path_); !s.ok()) return s;
  end_ += static_cast<off_t>(bytes.size());
  for (const ReplayTag& tag : tags) {
    seen_[tag] = seconds;
    // Arrival order is time order but for a clock set back: such a record goes where its time
    // puts it.
    if (order_.empty() || order_.back().first <= seconds) {
      order_.emplace_back(seconds, tag);
    } else {
      order_.insert(std::upper_bound(order_.begin(), order_.end(), std::make_pair(seconds, tag)),
                    std::make_pair(seconds, tag));
    }
  }
  if (file_records() >= kRewriteAtLeast && file_records() > 2 * seen_.size()) {
    if (absl::Status s = rewrite(); !s.ok()) {
      spdlog::warn("replay cache: {}; appending to the old file", std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ReplayCache::rewrite() {
  // A new file, under a name no one could have made ready, renamed over the old one: a crash
  // leaves one or the other, whole.
  std::string next = absl::StrCat(path_, ".XXXXXX");
  int fd = mkostemp(next.data(), O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create a file beside ", path_, ": ", std::strerror(errno)));
  }
  std::string bytes(kHeader, kHeaderSize);
  for (const auto& [seen, tag] : order_) {
    auto it = seen_.find(tag);
    if (it != seen_.end() && it->second == seen) put_record(tag, seen, &bytes);
  }
  absl::Status s = write_at(fd, bytes, 0, next);
  if (s.ok() && fchmod(fd, 0600) != 0) s = write_error(next, errno);
  // Locked before it takes the name, so the file under the name is always locked by this process.
  if (s.ok() && flock(fd, LOCK_EX | LOCK_NB) != 0) s = write_error(next, errno);
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
  end_ = static_cast<off_t>(bytes.size());
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
