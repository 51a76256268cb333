// gssgated's replay cache (daemon/replay_cache.h): which AP-REQs a token holds, however it is
// encoded or wrapped, and the records' life in memory and on disk. The real path (MIT accepting,
// a replay refused through every wrapping and after a restart) is DaemonTest's
// TheReplayCache... test.

#include "daemon/replay_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace gssgate::daemon {
namespace {

// DER, and the BER variants MIT's decoder also takes.
enum class Lengths { kDer, kLongForm, kIndefinite };

std::string length_of(size_t n, Lengths how) {
  if (how == Lengths::kLongForm) {
    // Non-minimal: always four octets (MIT's decoder does not insist on the shortest form).
    return std::string{'\x84', static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
  }
  if (n < 0x80) return std::string(1, static_cast<char>(n));
  std::string out;
  for (size_t v = n; v != 0; v >>= 8) out.insert(out.begin(), static_cast<char>(v & 0xFF));
  return std::string(1, static_cast<char>(0x80 | out.size())) + out;
}

std::string tlv(std::string tag, const std::string& contents, Lengths how = Lengths::kDer,
                bool constructed = true) {
  if (how == Lengths::kIndefinite && constructed) return tag + '\x80' + contents + '\0' + '\0';
  return tag + length_of(contents.size(), how == Lengths::kIndefinite ? Lengths::kDer : how) +
         contents;
}

// AP-REQ ::= [APPLICATION 14] SEQUENCE { pvno [0], msg-type [1], ap-options [2], ticket [3],
// authenticator [4] EncryptedData { etype [0], cipher [2] } }, its lengths written `how`.
std::string ap_req(const std::string& cipher, Lengths how = Lengths::kDer,
                   std::string app_tag = "\x6e", std::string etype = "\x12") {
  auto ctx = [&](int n, const std::string& inner) {
    return tlv(std::string(1, static_cast<char>(0xA0 | n)), inner, how);
  };
  const std::string integer5 = tlv("\x02", "\x05", how, false);
  const std::string ticket =
      tlv("\x61", tlv("\x30", ctx(0, integer5) + ctx(1, tlv("\x1b", "R", how, false)), how), how);
  const std::string encrypted =
      tlv("\x30", ctx(0, tlv("\x02", etype, how, false)) + ctx(2, tlv("\x04", cipher, how, false)),
          how);
  const std::string body = ctx(0, integer5) + ctx(1, tlv("\x02", "\x0e", how, false)) +
                           ctx(2, tlv("\x03", std::string("\x00\x20\x00\x00\x00", 5), how, false)) +
                           ctx(3, ticket) + ctx(4, encrypted);
  return tlv(std::move(app_tag), tlv("\x30", body, how), how);
}

const std::string kKrb5Oid("\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 11);

// RFC 2743 §3.1 framing with the krb5 OID and TOK_ID 01 00 (RFC 4121 §4.1).
std::string krb5_token(const std::string& apreq) {
  return tlv("\x60", kKrb5Oid + std::string("\x01\x00", 2) + apreq);
}

// SPNEGO NegTokenInit (RFC 4178 §4.2.1) carrying `mech_token`, or a NegTokenResp.
std::string spnego_init(const std::string& mech_token) {
  const std::string spnego_oid("\x06\x06\x2b\x06\x01\x05\x05\x02", 8);
  const std::string init =
      tlv("\x30", tlv("\xa0", tlv("\x30", kKrb5Oid)) + tlv("\xa2", tlv("\x04", mech_token)));
  return tlv("\x60", spnego_oid + tlv("\xa0", init));
}
std::string spnego_resp(const std::string& response_token) {
  return tlv("\xa1", tlv("\x30", tlv("\xa2", tlv("\x04", response_token))));
}

std::vector<ReplayTag> tags(const std::string& token) {
  absl::StatusOr<std::vector<ReplayTag>> t = authenticator_tags(token);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : std::vector<ReplayTag>{};
}

// 200 octets whose last 24 all differ, so a tag says which octets it was taken from.
std::string cipher_of(char fill) {
  std::string c(200, fill);
  for (int i = 0; i < 24; ++i) c[176 + i] = static_cast<char>('A' + i);
  return c;
}

ReplayTag tag_from(std::string_view octets) {
  ReplayTag t{};
  std::copy(octets.begin(), octets.begin() + t.size(), t.begin());
  return t;
}

TEST(AuthenticatorTags, TheTagIsMitsTheIntegrityTagAtTheEndOfTheCiphertext) {
  const std::string cipher = cipher_of('\x5a');
  // aes256-cts-hmac-sha1-96 (18): a 12-octet checksum, the last 12 octets.
  EXPECT_EQ(tags(ap_req(cipher)), std::vector<ReplayTag>{tag_from(cipher.substr(188))});
  // aes256-cts-hmac-sha384-192 (20): 24 octets, of which MIT's file2 keeps the first 12.
  EXPECT_EQ(tags(ap_req(cipher, Lengths::kDer, "\x6e", "\x14")),
            std::vector<ReplayTag>{tag_from(cipher.substr(176))});
  // An enctype MIT does not know cannot be accepted: no tag. Nor can a ciphertext shorter than
  // its checksum.
  EXPECT_TRUE(tags(ap_req(cipher, Lengths::kDer, "\x6e", "\x63")).empty());
  EXPECT_TRUE(tags(ap_req(std::string(11, 'c'))).empty());
}

TEST(AuthenticatorTags, OneAuthenticatorGivesOneTagHoweverItIsEncodedOrWrapped) {
  const std::string cipher = cipher_of('\x5a');
  const std::vector<ReplayTag> want = tags(ap_req(cipher));
  ASSERT_EQ(want.size(), 1u);
  EXPECT_EQ(tags(krb5_token(ap_req(cipher))), want);
  EXPECT_EQ(tags(ap_req(cipher, Lengths::kLongForm)), want);
  EXPECT_EQ(tags(krb5_token(ap_req(cipher, Lengths::kIndefinite))), want);
  // [APPLICATION 14] in the high-tag-number form, with redundant leading septets, and with a high
  // septet MIT's 32-bit tag number drops.
  EXPECT_EQ(tags(ap_req(cipher, Lengths::kDer, "\x7f\x0e")), want);
  EXPECT_EQ(tags(ap_req(cipher, Lengths::kDer, "\x7f\x80\x80\x0e")), want);
  EXPECT_EQ(tags(ap_req(cipher, Lengths::kDer, "\x7f\x90\x80\x80\x80\x0e")), want);
  EXPECT_EQ(tags(spnego_init(krb5_token(ap_req(cipher)))), want);
  EXPECT_EQ(tags(spnego_resp(krb5_token(ap_req(cipher, Lengths::kIndefinite)))), want);
  // Bytes before and after it change nothing: the search tries every offset.
  EXPECT_EQ(tags("junk" + ap_req(cipher) + "trailer"), want);
  // Another authenticator is another tag; two in one token are two.
  std::string other_cipher = cipher;
  other_cipher.back() = 'z';
  const std::vector<ReplayTag> other = tags(ap_req(other_cipher));
  ASSERT_EQ(other.size(), 1u);
  EXPECT_NE(other, want);
  EXPECT_EQ(tags(spnego_init(ap_req(cipher)) + ap_req(other_cipher)).size(), 2u);
}

// What MIT's decode_sequence decodes: the first [0] (etype) and the first [2] (cipher) after it,
// each once; so an EncryptedData crammed with etypes and ciphers still gives one tag.
TEST(AuthenticatorTags, ACandidateGivesOneTagHoweverManyFieldsItRepeats) {
  auto tlv = [](const std::string& tag, const std::string& v) {
    return tag + length_of(v.size(), Lengths::kDer) + v;
  };
  const std::string cipher = cipher_of('\x5a');
  std::string fields;
  for (int i = 0; i < 200; ++i) fields += tlv("\xa0", "\x02\x01\x12");
  for (int i = 0; i < 200; ++i) {
    std::string c = cipher;
    c.back() = static_cast<char>(i);
    fields += tlv("\xa2", tlv("\x04", c));
  }
  const std::string body = tlv("\xa0", "\x02\x01\x05") + tlv("\xa4", tlv("\x30", fields));
  std::string first = cipher;
  first.back() = '\0';
  EXPECT_EQ(tags(tlv("\x6e", tlv("\x30", body))),
            std::vector<ReplayTag>{tag_from(first.substr(188))});
}

TEST(AuthenticatorTags, MoreApReqsThanAnInitiatorSendsAreRefused) {
  std::string token;
  for (char c = 'a'; c < 'a' + 4; ++c) token += ap_req(cipher_of(c) + c);
  EXPECT_EQ(tags(token).size(), 4u);
  token += ap_req(cipher_of('e') + 'e');
  absl::StatusOr<std::vector<ReplayTag>> refused = authenticator_tags(token);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("more than 4 Kerberos AP-REQs"), std::string::npos);
}

// Only where MIT's acceptor puts an AP-REP: the reply itself (DCE style), a krb5 token with TOK_ID
// 02 00, or SPNEGO's responseToken holding one; never bytes elsewhere (an IAKERB reply echoes
// names the sender chose).
TEST(HoldsApRep, FindsAnApRepOnlyWhereTheAcceptorPutsOne) {
  std::string rep = ap_req(cipher_of('r'));
  rep[0] = '\x6f';
  const std::string framed = tlv("\x60", kKrb5Oid + std::string("\x02\x00", 2) + rep);
  EXPECT_TRUE(holds_ap_rep(rep));
  EXPECT_TRUE(holds_ap_rep(framed));
  EXPECT_TRUE(holds_ap_rep(spnego_resp(framed)));
  EXPECT_FALSE(holds_ap_rep(krb5_token(rep))) << "TOK_ID 01 00 is an AP-REQ's";
  EXPECT_FALSE(holds_ap_rep("junk" + framed));
  EXPECT_FALSE(holds_ap_rep(tlv("\x7e", "\x02\x01\x05" + framed))) << "inside a KRB-ERROR";
  EXPECT_FALSE(holds_ap_rep(ap_req(cipher_of('r'))));
  EXPECT_FALSE(holds_ap_rep(spnego_resp("")));
  EXPECT_FALSE(holds_ap_rep(""));
}

// MIT's decoder (newer ones) takes an INTEGER of nine octets whose first is zero: the same etype.
TEST(AuthenticatorTags, AnEtypeInNineOctetsIsTheSameEtype) {
  const std::string cipher = cipher_of('\x5a');
  EXPECT_EQ(tags(ap_req(cipher, Lengths::kDer, "\x6e", std::string(8, '\0') + "\x12")),
            tags(ap_req(cipher)));
  ASSERT_EQ(tags(ap_req(cipher)).size(), 1u);
}

TEST(AuthenticatorTags, TokensWithoutAnApReqGiveNoneAndAbusiveNestingIsRefused) {
  EXPECT_TRUE(tags("").empty());
  EXPECT_TRUE(tags("definitely not a kerberos token").empty());
  // An AP-REP ([APPLICATION 15]) and an AP-REQ without an authenticator hold no tag.
  std::string rep = ap_req(cipher_of('x'));
  rep[0] = '\x6f';
  EXPECT_TRUE(tags(rep).empty());
  EXPECT_TRUE(tags(tlv("\x6e", tlv("\x30", tlv("\xa0", "\x02\x01\x05")))).empty());
  // Cut short anywhere: no complete authenticator, no tag, no read past the end.
  const std::string whole = krb5_token(ap_req(cipher_of('c')));
  for (size_t n = 0; n < whole.size() - 1; ++n) {
    EXPECT_TRUE(tags(whole.substr(0, n)).empty()) << n;
  }
  // Nesting deeper than MIT would ever decode cannot be searched: refused, not guessed at.
  std::string deep = ap_req(cipher_of('c'));
  for (int i = 0; i < 100; ++i) deep = "\x30\x80" + deep + std::string(2, '\0');
  absl::StatusOr<std::vector<ReplayTag>> refused = authenticator_tags("\x6e\x80" + deep);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("replay"), std::string::npos);
  // A megabyte of candidate tag octets with indefinite lengths that never end: bounded work (it
  // finishes), and an answer either way.
  std::string flood;
  while (flood.size() < (1 << 20)) flood += "\x6e\x80\x30\x80";
  EXPECT_EQ(authenticator_tags(flood).status().code(), absl::StatusCode::kResourceExhausted);
  // Candidates that each read again a tag number a megabyte long: every octet of it costs work,
  // so the search gives up instead of reading it 8,000 times.
  std::string long_tag = "\x6e\x80";
  for (int i = 0; i < 8000; ++i) long_tag += std::string("\x04\x02\x6e\x80", 4);
  long_tag += "\x1f" + std::string(1 << 20, '\xff') + std::string("\x01\x00\x00\x00", 4);
  EXPECT_EQ(authenticator_tags(long_tag).status().code(), absl::StatusCode::kResourceExhausted);
}

class ReplayCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gssgate-rcache-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/gssgated.rcache";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<ReplayCache> open() {
    auto c = ReplayCache::open(path_, absl::Seconds(660));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static ReplayTag tag(uint8_t n) {
    ReplayTag t{};
    t[0] = n;
    t[11] = static_cast<uint8_t>(~n);
    return t;
  }
  std::string dir_, path_;
  const absl::Time t0_ = absl::Now();
};

TEST_F(ReplayCacheTest, ATagIsARepeatUntilItsRetentionEnds) {
  auto cache = open();
  ASSERT_TRUE(cache);
  ASSERT_TRUE(cache->record({tag(1)}, t0_).ok());
  absl::Status again = cache->record({tag(1)}, t0_ + absl::Seconds(659));
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  // One tag of a step already seen: the whole step is a replay, and its other tags stay unseen.
  EXPECT_EQ(cache->record({tag(2), tag(1)}, t0_).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(cache->record({tag(2)}, t0_).ok());
  EXPECT_TRUE(cache->record({tag(1)}, t0_ + absl::Seconds(661)).ok()) << "expired, then new";
  EXPECT_EQ(cache->live(), 1u) << "tag 2 expired when tag 1 came back";
}

TEST_F(ReplayCacheTest, RecordsSurviveARestartAndExpiredOrTornOnesAreDropped) {
  {
    auto cache = open();
    ASSERT_TRUE(cache);
    ASSERT_TRUE(cache->record({tag(1), tag(2)}, absl::Now()).ok());
    ASSERT_TRUE(cache->record({tag(3)}, absl::Now() - absl::Hours(1)).ok()) << "long expired";
  }
  {
    // A crash in the middle of an append leaves part of a record: it is not one.
    std::ofstream(path_, std::ios::app) << std::string(10, '\x7f');
  }
  auto cache = open();
  ASSERT_TRUE(cache);
  EXPECT_EQ(cache->live(), 2u);
  EXPECT_EQ(cache->record({tag(1)}, absl::Now()).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(cache->record({tag(2)}, absl::Now()).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(cache->record({tag(3)}, absl::Now()).ok());
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 16 + 3 * 20) << "rewritten at open: header and the live records";
}

// Steps racing with one authenticator: exactly one is accepted.
TEST_F(ReplayCacheTest, OfStepsRacingWithOneAuthenticatorExactlyOnePasses) {
  auto cache = open();
  ASSERT_TRUE(cache);
  for (uint8_t n = 0; n < 50; ++n) {
    std::atomic<int> passed{0};
    std::vector<std::thread> steps;
    for (int i = 0; i < 8; ++i) {
      steps.emplace_back([&] {
        if (cache->record({tag(n)}, t0_).ok()) ++passed;
      });
    }
    for (std::thread& t : steps) t.join();
    EXPECT_EQ(passed.load(), 1) << int{n};
  }
}

TEST_F(ReplayCacheTest, ALongerRetentionKeepsTheRecordsAlreadyThere) {
  auto cache = open();
  ASSERT_TRUE(cache);
  ASSERT_TRUE(cache->record({tag(1)}, t0_).ok());
  cache->set_retention(absl::Seconds(1200));  // krb5.conf's clockskew raised to 570 s
  EXPECT_EQ(cache->record({tag(1)}, t0_ + absl::Seconds(1000)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(cache->record({tag(1)}, t0_ + absl::Seconds(1201)).ok());
}

// A write cut short (here by RLIMIT_FSIZE, as by a full disk) leaves no part of a record: the
// file is cut back, the step fails naming the file, and the records after it read back whole.
TEST_F(ReplayCacheTest, AWriteThatFailsHalfwayLeavesNoPartOfARecord) {
  auto cache = open();
  ASSERT_TRUE(cache);
  ASSERT_TRUE(cache->record({tag(1)}, t0_).ok());
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*previous)(int) = signal(SIGXFSZ, SIG_IGN);
  struct rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(st.st_size) + 30;  // room for one record and a half
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tight), 0);
  absl::Status failed = cache->record({tag(2), tag(3)}, t0_);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, previous);
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_NE(failed.message().find(path_), std::string::npos) << failed;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 16 + 20) << "cut back to the records before";
  EXPECT_TRUE(cache->record({tag(2)}, t0_).ok()) << "nothing of the failed step was recorded";
  ASSERT_TRUE(cache->record({tag(4)}, t0_).ok());
  cache.reset();
  auto reopened = open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->live(), 3u);
  for (uint8_t n : {1, 2, 4}) {
    EXPECT_EQ(reopened->record({tag(n)}, t0_).code(), absl::StatusCode::kAlreadyExists) << int{n};
  }
  EXPECT_TRUE(reopened->record({tag(3)}, t0_).ok());
}

TEST_F(ReplayCacheTest, TheFileIsRewrittenWhenMostOfItHasExpired) {
  auto cache = open();
  ASSERT_TRUE(cache);
  for (int i = 0; i < 5000; ++i) {
    ReplayTag t{};
    t[0] = static_cast<uint8_t>(i);
    t[1] = static_cast<uint8_t>(i >> 8);
    t[2] = 0xEE;
    ASSERT_TRUE(cache->record({t}, t0_ - absl::Hours(1)).ok());
  }
  ASSERT_TRUE(cache->record({tag(9)}, t0_).ok());
  EXPECT_EQ(cache->live(), 1u);
  EXPECT_EQ(cache->records_in_file(), 1u);
  cache.reset();
  auto reopened = open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->record({tag(9)}, t0_).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ReplayCacheTest, AFileSomeoneElseCouldWriteOrThatIsNoCacheIsRefused) {
  ASSERT_TRUE(std::ofstream(path_) << "a file that is no replay cache\n");
  auto foreign = ReplayCache::open(path_, absl::Seconds(660));
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kFailedPrecondition) << foreign.status();
  EXPECT_NE(foreign.status().message().find("is not a gssgated replay cache"), std::string::npos);

  ASSERT_EQ(unlink(path_.c_str()), 0);
  ASSERT_TRUE(open());
  ASSERT_EQ(chmod(path_.c_str(), 0620), 0);
  auto writable = ReplayCache::open(path_, absl::Seconds(660));
  EXPECT_EQ(writable.status().code(), absl::StatusCode::kFailedPrecondition) << writable.status();

  ASSERT_EQ(unlink(path_.c_str()), 0);
  ASSERT_EQ(symlink("/etc/passwd", path_.c_str()), 0);
  auto link = ReplayCache::open(path_, absl::Seconds(660));
  EXPECT_FALSE(link.ok());
  EXPECT_NE(link.status().message().find(path_), std::string::npos) << link.status();
}

TEST_F(ReplayCacheTest, MitsLiveFile2RecordsAreTakenOverAndKept) {
  // rc_file2.c's layout: a 16-octet seed, then 16-octet records (12-octet tag, 32-bit stamp).
  auto record = [](uint8_t n, int64_t stamp) {
    std::string r(reinterpret_cast<const char*>(tag(n).data()), 12);
    for (int shift = 24; shift >= 0; shift -= 8) r.push_back(static_cast<char>(stamp >> shift));
    return r;
  };
  const int64_t now = absl::ToUnixSeconds(t0_);
  const std::string file2 = dir_ + "/krb5_0.rcache2";
  ASSERT_TRUE(std::ofstream(file2)
              << std::string(16, 's') << record(1, now - 30) << std::string(16, '\0')
              << record(2, now - 3600) << record(3, now - 659) << std::string(7, 'x'));
  auto cache = open();
  ASSERT_TRUE(cache);
  absl::StatusOr<size_t> taken = cache->take_mit_records(file2, t0_);
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(*taken, 2u) << "the hour-old record and the empty slot are not live";
  EXPECT_EQ(cache->record({tag(1)}, t0_).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(cache->record({tag(3)}, t0_).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(cache->record({tag(2)}, t0_).ok());
  // Kept for the retention from MIT's stamp, and in this cache's own file from now on.
  EXPECT_TRUE(cache->record({tag(3)}, t0_ + absl::Seconds(2)).ok());
  cache.reset();
  auto reopened = open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->record({tag(1)}, t0_).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*reopened->take_mit_records(dir_ + "/no-such-file", t0_), 0u);
  // A file MIT would not use as its cache (another may write it) gives nothing.
  ASSERT_EQ(chmod(file2.c_str(), 0666), 0);
  EXPECT_EQ(*reopened->take_mit_records(file2, t0_), 0u);
}

TEST(ReplayRetention, IsTwiceTheClockskewAndAMinute) {
  EXPECT_EQ(replay_retention(absl::Seconds(300)), absl::Seconds(660));
}

}  // namespace
}  // namespace gssgate::daemon
