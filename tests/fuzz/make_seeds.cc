// gssgate-fuzz-seeds OUT [POLICY.toml...]: records a realm and seed corpora for the fuzz targets.
//
// Starts a throwaway MIT realm (tests/fixtures/mini_kdc.h), runs a full scenario through the
// in-process daemon of fuzz_daemon.h (handshakes krb5 and SPNEGO, wrap/unwrap, MICs, names with
// PAC attributes, credential export, every status RPC) and writes:
//   OUT/realm/          krb5.conf, service.keytab, client.keytab, acceptor.context: what the
//   targets
//                       need to accept and unwrap the recorded tokens with no KDC running
//   OUT/seeds/requests/ every request of the scenario, as fuzz_requests inputs
//   OUT/seeds/tokens/   every token, as fuzz_tokens inputs
//   OUT/seeds/policy/   the fuzz policy and the POLICY files given, as fuzz_policy inputs
//   OUT/seeds/wire/     the requests as wire-transport datagrams, and the envelope's edge cases
// The KDC is stopped when the tool exits; tickets in the tokens stay valid for 10 hours, and the
// realm's krb5.conf allows any clock skew so authenticators stay acceptable as long.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gssgate/v1/wire.pb.h"
#include "lib/gss/flags.h"
#include "lib/gss/oid.h"
#include "tests/fixtures/mini_kdc.h"
#include "tests/fuzz/fuzz_daemon.h"
#include "tests/fuzz/fuzz_tokens.h"

namespace gssgate::fuzz {
namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "gssgate-fuzz-seeds: %s\n", what.c_str());
  std::exit(1);
}

void check(const absl::Status& status, const std::string& what) {
  if (!status.ok()) fail(absl::StrCat(what, ": ", status.ToString()));
}

template <typename Reply>
void check_gss(const absl::Status& status, const Reply& reply, const std::string& what) {
  check(status, what);
  if ((reply.status().major() & 0xffff0000u) != 0) {
    fail(absl::StrCat(what, ": ", reply.status().ShortDebugString()));
  }
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) fail(absl::StrCat("cannot write ", path));
}

class Recorder {
 public:
  explicit Recorder(std::string dir) : dir_(std::move(dir)) {}
  void token(TokenOp op, const std::string& name, const std::string& bytes) {
    write_file(absl::StrFormat("%s/%d-%s-%02d", dir_, op, name, n_++),
               std::string(1, static_cast<char>(op)) + bytes);
  }

 private:
  std::string dir_;
  int n_ = 0;
};

// A handshake of `mech` (empty: krb5) from the baseline initiator to the baseline acceptor.
struct Established {
  std::string initiator, acceptor, first_token;
  v1::Name initiator_name;
  std::string delegated;
};

Established handshake(FuzzDaemon& d, const v1::Name& target, const std::string& mech) {
  Established out;
  v1::InitSecContextRequest init;
  init.set_creds(d.initiator_creds());
  *init.mutable_target() = target;
  init.set_mech(mech);
  init.set_flags((gss::Flag::kMutual | gss::Flag::kDelegate | gss::Flag::kReplay |
                  gss::Flag::kSequence | gss::Flag::kConfidentiality | gss::Flag::kIntegrity)
                     .bits());
  v1::InitSecContextReply i1;
  check_gss(d.run(&Service::InitSecContext, init, &i1), i1, "InitSecContext");
  out.initiator = i1.context();
  out.first_token = i1.output_token();
  std::string token = i1.output_token();
  for (int round = 0; round < 4; ++round) {
    v1::AcceptSecContextRequest accept;
    accept.set_context(out.acceptor);
    accept.set_creds(d.acceptor_creds());
    accept.set_input_token(token);
    v1::AcceptSecContextReply a;
    check_gss(d.run(&Service::AcceptSecContext, accept, &a), a, "AcceptSecContext");
    out.acceptor = a.context();
    if (a.has_initiator_name()) out.initiator_name = a.initiator_name();
    if (!a.delegated_creds().empty()) out.delegated = a.delegated_creds();
    if (a.output_token().empty()) break;
    init.set_context(out.initiator);
    init.set_input_token(a.output_token());
    v1::InitSecContextReply i2;
    check_gss(d.run(&Service::InitSecContext, init, &i2), i2, "InitSecContext (step 2)");
    if (!i2.continue_needed() && i2.output_token().empty()) break;
    token = i2.output_token();
  }
  return out;
}

void record_scenario(FuzzDaemon& d, const std::string& out) {
  Recorder tokens(out + "/seeds/tokens");
  d.begin_input();
  d.record_requests(out + "/seeds/requests");

  v1::ImportNameRequest import;
  import.mutable_name()->set_value(kServiceName);
  import.mutable_name()->set_name_type(gss::oids::nt_hostbased_service().der());
  v1::ImportNameReply target;
  check_gss(d.run(&Service::ImportName, import, &target), target, "ImportName");

  // krb5: the acceptor context is exported before it has seen any per-message token, so the
  // targets' fresh import of it accepts the recorded wrap and MIC tokens as the first ones.
  Established krb5 = handshake(d, target.name(), "");
  tokens.token(kAccept, "krb5-ap-req", krb5.first_token);
  {
    // The one-shot accept and release_when_complete (issue 15): a fresh AP-REQ, accepted once.
    v1::InitSecContextRequest init;
    init.set_creds(d.initiator_creds());
    *init.mutable_target() = target.name();
    init.set_release_when_complete(true);
    v1::InitSecContextReply i1;
    check_gss(d.run(&Service::InitSecContext, init, &i1), i1, "InitSecContext (one-shot)");
    v1::AcceptOnceRequest once;
    once.set_creds(d.acceptor_creds());
    once.set_input_token(i1.output_token());
    v1::AcceptOnceReply accepted;
    check_gss(d.run(&Service::AcceptOnce, once, &accepted), accepted, "AcceptOnce");
  }
  v1::ExportContextRequest export_request;
  export_request.set_context(krb5.acceptor);
  v1::ExportContextReply exported;
  check_gss(d.run(&Service::ExportContext, export_request, &exported), exported, "ExportContext");
  write_file(absl::StrCat(out, "/realm/", kAcceptorContext), exported.token());
  tokens.token(kImportContext, "acceptor-context", exported.token());
  v1::ImportContextRequest reimport;
  reimport.set_token(exported.token());
  v1::ImportContextReply acceptor;
  check_gss(d.run(&Service::ImportContext, reimport, &acceptor), acceptor, "ImportContext");
  // The initiator's side the same way, so the targets hold both ends of one handshake.
  export_request.set_context(krb5.initiator);
  check_gss(d.run(&Service::ExportContext, export_request, &exported), exported, "ExportContext");
  write_file(absl::StrCat(out, "/realm/", kInitiatorContext), exported.token());
  tokens.token(kImportContext, "initiator-context", exported.token());
  reimport.set_token(exported.token());
  v1::ImportContextReply initiator_side;
  check_gss(d.run(&Service::ImportContext, reimport, &initiator_side), initiator_side,
            "ImportContext");
  krb5.initiator = initiator_side.context();

  for (bool encrypt : {true, false}) {
    v1::WrapRequest wrap;
    wrap.set_context(krb5.initiator);
    wrap.set_message(encrypt ? "sealed message" : "signed-only message");
    wrap.set_encrypt(encrypt);
    v1::WrapReply wrapped;
    check_gss(d.run(&Service::Wrap, wrap, &wrapped), wrapped, "Wrap");
    tokens.token(kUnwrap, encrypt ? "wrap-conf" : "wrap-integ", wrapped.token());
    tokens.token(kProcessContextToken, "wrap-token", wrapped.token());
    v1::UnwrapRequest unwrap;
    unwrap.set_context(acceptor.context());
    unwrap.set_token(wrapped.token());
    v1::UnwrapReply unwrapped;
    check_gss(d.run(&Service::Unwrap, unwrap, &unwrapped), unwrapped, "Unwrap");
  }
  v1::GetMicRequest get_mic;
  get_mic.set_context(krb5.initiator);
  get_mic.set_message(kMicMessage);
  v1::GetMicReply mic;
  check_gss(d.run(&Service::GetMic, get_mic, &mic), mic, "GetMic");
  tokens.token(kVerifyMic, "mic", mic.mic());
  v1::VerifyMicRequest verify;
  verify.set_context(acceptor.context());
  verify.set_message(kMicMessage);
  verify.set_mic(mic.mic());
  v1::VerifyMicReply verified;
  check_gss(d.run(&Service::VerifyMic, verify, &verified), verified, "VerifyMic");

  // The acceptor side's per-message calls and inquiries.
  v1::WrapRequest wrap_back;
  wrap_back.set_context(acceptor.context());
  wrap_back.set_message("reply");
  wrap_back.set_encrypt(true);
  v1::WrapReply wrapped_back;
  (void)d.run(&Service::Wrap, wrap_back, &wrapped_back);
  v1::UnwrapRequest unwrap_back;
  unwrap_back.set_context(krb5.initiator);
  unwrap_back.set_token(wrapped_back.token());
  v1::UnwrapReply unwrapped_back;
  (void)d.run(&Service::Unwrap, unwrap_back, &unwrapped_back);
  v1::WrapSizeLimitRequest limit;
  limit.set_context(acceptor.context());
  limit.set_encrypt(true);
  limit.set_max_output_size(65536);
  v1::WrapSizeLimitReply limited;
  (void)d.run(&Service::WrapSizeLimit, limit, &limited);
  v1::InquireContextRequest inquire_context;
  inquire_context.set_context(acceptor.context());
  v1::InquireContextReply context_info;
  (void)d.run(&Service::InquireContext, inquire_context, &context_info);
  v1::ContextTimeRequest context_time;
  context_time.set_context(krb5.initiator);
  v1::ContextTimeReply time_left;
  (void)d.run(&Service::ContextTime, context_time, &time_left);

  // Names: the accepted initiator carries the PAC as attributes.
  const v1::Name& initiator = krb5.initiator_name;
  v1::DisplayNameRequest display;
  *display.mutable_name() = initiator;
  v1::DisplayNameReply displayed;
  (void)d.run(&Service::DisplayName, display, &displayed);
  display.set_display_as(gss::oids::nt_krb5_principal_name().der());
  (void)d.run(&Service::DisplayName, display, &displayed);
  v1::InquireNameRequest inquire_name;
  *inquire_name.mutable_name() = initiator;
  v1::InquireNameReply name_info;
  (void)d.run(&Service::InquireName, inquire_name, &name_info);
  for (const std::string& attribute : name_info.attributes()) {
    v1::GetNameAttributeRequest get;
    *get.mutable_name() = initiator;
    get.set_attribute(attribute);
    v1::GetNameAttributeReply got;
    (void)d.run(&Service::GetNameAttribute, get, &got);
  }
  v1::SetNameAttributeRequest set;
  *set.mutable_name() = initiator;
  set.set_attribute("urn:gssgate:fuzz");
  set.add_values("value");
  v1::SetNameAttributeReply was_set;
  (void)d.run(&Service::SetNameAttribute, set, &was_set);
  v1::DeleteNameAttributeRequest erase;
  *erase.mutable_name() = initiator;
  erase.set_attribute("urn:gssgate:fuzz");
  v1::DeleteNameAttributeReply erased;
  (void)d.run(&Service::DeleteNameAttribute, erase, &erased);
  // The refusal path for PAC attributes (issue #14): caller bytes never reach krb5_pac_parse.
  v1::SetNameAttributeRequest set_pac;
  *set_pac.mutable_name() = initiator;
  set_pac.set_attribute("urn:mspac:");
  set_pac.add_values(std::string("\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00", 12));
  v1::SetNameAttributeReply pac_set;
  (void)d.run(&Service::SetNameAttribute, set_pac, &pac_set);
  v1::DeleteNameAttributeRequest erase_pac;
  *erase_pac.mutable_name() = initiator;
  erase_pac.set_attribute("urn:mspac:client-info");
  v1::DeleteNameAttributeReply pac_erased;
  (void)d.run(&Service::DeleteNameAttribute, erase_pac, &pac_erased);
  // The refusal paths for mechanisms the rule does not allow (issue #14, item 1): Microsoft's and
  // the old krb5 OID had no element in the default credential, and MIT used its process defaults.
  for (const gss::Oid* refused : {&gss::oids::krb5_ms(), &gss::oids::krb5_old()}) {
    v1::InitSecContextRequest init_refused;
    *init_refused.mutable_target() = target.name();
    init_refused.set_mech(refused->der());
    v1::InitSecContextReply init_refused_reply;
    (void)d.run(&Service::InitSecContext, init_refused, &init_refused_reply);
    v1::AcquireCredsRequest acquire_refused;
    acquire_refused.set_usage(v1::CRED_USAGE_INITIATE);
    acquire_refused.add_mechs(refused->der());
    v1::AcquireCredsReply acquire_refused_reply;
    (void)d.run(&Service::AcquireCreds, acquire_refused, &acquire_refused_reply);
  }
  for (bool composite : {false, true}) {
    v1::ExportNameRequest export_name;
    *export_name.mutable_name() = initiator;
    export_name.set_composite(composite);
    v1::ExportNameReply name_token;
    check_gss(d.run(&Service::ExportName, export_name, &name_token), name_token, "ExportName");
    tokens.token(composite ? kImportCompositeName : kImportExportName,
                 composite ? "composite-name" : "export-name", name_token.token());
  }
  v1::CompareNameRequest compare;
  *compare.mutable_first() = initiator;
  *compare.mutable_second() = target.name();
  v1::CompareNameReply compared;
  (void)d.run(&Service::CompareName, compare, &compared);
  v1::CanonicalizeNameRequest canonicalize;
  *canonicalize.mutable_name() = target.name();
  canonicalize.set_mech(gss::oids::krb5().der());
  v1::CanonicalizeNameReply canonical;
  (void)d.run(&Service::CanonicalizeName, canonicalize, &canonical);

  // Credentials.
  v1::InquireCredRequest inquire_cred;
  inquire_cred.set_creds(d.acceptor_creds());
  v1::InquireCredReply cred_info;
  (void)d.run(&Service::InquireCred, inquire_cred, &cred_info);
  v1::InquireCredByMechRequest by_mech;
  by_mech.set_creds(d.initiator_creds());
  by_mech.set_mech(gss::oids::krb5().der());
  v1::InquireCredByMechReply mech_info;
  (void)d.run(&Service::InquireCredByMech, by_mech, &mech_info);
  v1::ExportCredRequest export_cred;
  export_cred.set_creds(d.initiator_creds());
  v1::ExportCredReply cred_token;
  check_gss(d.run(&Service::ExportCred, export_cred, &cred_token), cred_token, "ExportCred");
  tokens.token(kImportCred, "sealed-cred", cred_token.token());
  v1::ImportCredRequest import_cred;
  import_cred.set_token(cred_token.token());
  v1::ImportCredReply imported_cred;
  (void)d.run(&Service::ImportCred, import_cred, &imported_cred);
  v1::AddCredRequest add;
  add.set_creds(d.acceptor_creds());
  add.set_usage(v1::CRED_USAGE_ACCEPT);
  add.set_mech(gss::oids::krb5().der());
  v1::AddCredReply added;
  (void)d.run(&Service::AddCred, add, &added);
  if (!krb5.delegated.empty()) {
    v1::StoreCredRequest store;
    store.set_creds(krb5.delegated);
    store.set_usage(v1::CRED_USAGE_INITIATE);
    store.set_overwrite(true);
    store.set_default_cred(true);
    v1::StoreCredReply stored;
    (void)d.run(&Service::StoreCred, store, &stored);
  }
  v1::AcquireCredImpersonateNameRequest impersonate;
  impersonate.set_impersonator(d.initiator_creds());
  impersonate.mutable_name()->set_value("alice");
  impersonate.mutable_name()->set_name_type(gss::oids::nt_user_name().der());
  v1::AcquireCredImpersonateNameReply impersonated;
  (void)d.run(&Service::AcquireCredImpersonateName, impersonate, &impersonated);

  // SPNEGO: its first token wraps the AP-REQ in a NegTokenInit.
  Established spnego = handshake(d, target.name(), gss::oids::spnego().der());
  tokens.token(kAccept, "spnego-init", spnego.first_token);

  // The daemon's own RPCs.
  v1::WhoAmIReply who;
  (void)d.run(&Service::WhoAmI, v1::WhoAmIRequest(), &who);
  v1::GetStatusReply status;
  (void)d.run(&Service::GetStatus, v1::GetStatusRequest(), &status);
  v1::ListHandlesRequest list;
  list.set_all(true);
  v1::ListHandlesReply listed;
  (void)d.run(&Service::ListHandles, list, &listed);
  v1::IndicateMechsReply mechs;
  (void)d.run(&Service::IndicateMechs, v1::IndicateMechsRequest(), &mechs);
  v1::GetMetricsReply metrics;
  (void)d.run(&Service::GetMetrics, v1::GetMetricsRequest(), &metrics);
  v1::ReloadReply reloaded;
  (void)d.run(&Service::Reload, v1::ReloadRequest(), &reloaded);

  for (const std::string& context : {krb5.initiator, spnego.initiator, spnego.acceptor}) {
    v1::DeleteSecContextRequest del;
    del.set_context(context);
    v1::DeleteSecContextReply deleted;
    (void)d.run(&Service::DeleteSecContext, del, &deleted);
  }
  v1::ReleaseCredRequest release;
  release.set_creds(d.acceptor_creds());
  v1::ReleaseCredReply released;
  (void)d.run(&Service::ReleaseCred, release, &released);
  d.record_requests("");
  d.end_input();
}

// fuzz_wire seeds: every recorded request as the wire transport carries it (one Frame; every
// other one split in two fragments; every third carrying a release), and the envelope's edges.
void write_wire_seeds(const std::string& out) {
  auto frame = [](uint32_t method, uint64_t call_id, std::string_view payload, bool continued) {
    v1::Frame f;
    f.set_method(method);
    f.set_call_id(call_id);
    f.set_payload(std::string(payload));
    f.set_continued(continued);
    return f;
  };
  std::vector<std::filesystem::path> requests;
  for (const auto& entry : std::filesystem::directory_iterator(out + "/seeds/requests")) {
    requests.push_back(entry.path());
  }
  std::sort(requests.begin(), requests.end());
  uint64_t call_id = 1;
  for (const std::filesystem::path& path : requests) {
    const std::string input = read_file(path.string());
    if (input.empty()) continue;
    const uint32_t method = wire_method(static_cast<uint8_t>(input[0]));
    const std::string_view payload = std::string_view(input).substr(1);
    std::vector<v1::Frame> frames;
    if (call_id % 2 == 0 && payload.size() >= 2) {
      frames.push_back(frame(method, call_id, payload.substr(0, payload.size() / 2), true));
      frames.push_back(frame(method, call_id, payload.substr(payload.size() / 2), false));
    } else {
      frames.push_back(frame(method, call_id, payload, false));
    }
    if (call_id % 3 == 0) {
      frames.front().mutable_release()->add_contexts(std::string(16, '\x5a'));
      frames.front().mutable_release()->add_creds(std::string(16, '\xa5'));
    }
    std::vector<std::string> datagrams;
    for (const v1::Frame& f : frames) datagrams.push_back(f.SerializeAsString());
    write_file(absl::StrFormat("%s/seeds/wire/%s", out, path.filename().string()),
               wire_input(datagrams));
    ++call_id;
  }
  const std::string ping = frame(wire_method(rpc_index("IndicateMechs")), 7, "", false)
                               .SerializeAsString();
  write_file(out + "/seeds/wire/edge-garbage", wire_input({"GET / HTTP/1.1\r\n\r\n"}));
  write_file(out + "/seeds/wire/edge-unknown-method",
             wire_input({frame(9999, 1, "", false).SerializeAsString(), ping}));
  write_file(out + "/seeds/wire/edge-interleaved",
             wire_input({frame(1, 1, "ab", true).SerializeAsString(),
                         frame(1, 2, "cd", false).SerializeAsString()}));
  std::vector<std::string> oversize;
  const std::string chunk(16 * 1024, 'x');
  for (int i = 0; i < 3; ++i) oversize.push_back(frame(1, 3, chunk, i < 2).SerializeAsString());
  oversize.push_back(ping);
  write_file(out + "/seeds/wire/edge-oversize", wire_input(oversize));
  std::string truncated = wire_input({ping});
  truncated[0] = 1;
  write_file(out + "/seeds/wire/edge-truncated", truncated);
}

}  // namespace
}  // namespace gssgate::fuzz

int main(int argc, char** argv) {
  using namespace gssgate;
  using namespace gssgate::fuzz;
  if (argc < 2) fail("usage: gssgate-fuzz-seeds OUT [POLICY.toml...]");
  const std::string out = argv[1];
  for (const std::string& dir : {out, out + "/realm", out + "/seeds", out + "/seeds/requests",
                                 out + "/seeds/tokens", out + "/seeds/policy",
                                 out + "/seeds/wire"}) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) fail(absl::StrCat("mkdir ", dir));
  }
  absl::StatusOr<std::unique_ptr<testing::MiniKdc>> kdc = testing::MiniKdc::start();
  check(kdc.status(), "starting the KDC");
  const std::string service = (*kdc)->qualify("HTTP/localhost");
  const std::string alice = (*kdc)->qualify("alice");
  check((*kdc)->add_principal_with_random_key(service), "adding the service");
  check((*kdc)->add_principal_with_random_key(alice), "adding alice");
  const std::string realm = out + "/realm";
  check((*kdc)->export_keytab(absl::StrCat(realm, "/", kServiceKeytab), {service}),
        "service keytab");
  check((*kdc)->export_keytab(absl::StrCat(realm, "/", kClientKeytab), {alice}), "client keytab");
  std::string conf = read_file((*kdc)->krb5_conf());
  const std::string libdefaults = "[libdefaults]\n";
  const size_t at = conf.find(libdefaults);
  if (at == std::string::npos) fail("the realm's krb5.conf has no [libdefaults]");
  conf.insert(at + libdefaults.size(),
              "  # fuzz inputs replay recorded authenticators for hours\n"
              "  clockskew = 100000000\n");
  write_file(absl::StrCat(realm, "/", kKrb5Conf), conf);
  std::remove(absl::StrCat(realm, "/", kAcceptorContext).c_str());
  std::remove(absl::StrCat(realm, "/", kInitiatorContext).c_str());
  std::remove(absl::StrCat(realm, "/", kInitiatorCcache).c_str());

  {
    FuzzDaemon daemon(realm);
    record_scenario(daemon, out);
  }
  // What every target does first, as the targets will: with no KDC, from the recorded files.
  check((*kdc)->stop(), "stopping the KDC");
  {
    FuzzDaemon offline(realm);
    offline.begin_input();
    if (offline.context().empty() || offline.initiator_context().empty()) {
      fail("the recorded contexts did not import");
    }
    if (offline.initiator_creds().empty()) fail("no initiator credentials from the ccache");
    offline.end_input();
  }
  write_file(out + "/seeds/policy/fuzz.toml",
             fuzz_policy(realm, absl::StrCat(realm, "/", kInitiatorCcache), getuid()));
  for (int i = 2; i < argc; ++i) {
    std::string text = read_file(argv[i]);
    if (text.empty()) fail(absl::StrCat("cannot read ", argv[i]));
    write_file(absl::StrFormat("%s/seeds/policy/given-%02d.toml", out, i), text);
  }
  write_wire_seeds(out);
  std::printf("gssgate-fuzz-seeds: realm and seeds in %s\n", out.c_str());
  return 0;
}
