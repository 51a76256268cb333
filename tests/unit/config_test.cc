#include "daemon/config.h"

#include <grp.h>

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gssgate::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kGood[] = R"(
[daemon]
socket = "/run/gssgate/test.sock"
socket_mode = "0600"
max_connections = 10
max_message_bytes = 65536
idle_timeout = 60

[[rule]]
name = "web"
uids = [33, 34]
users = ["root"]
usages = ["accept"]
keytab = "/etc/gssgate/http.keytab"
principals = ["HTTP/*@EXAMPLE.COM"]
max_handles = 5

[[rule]]
name = "batch"
gids = [100]
groups = ["root"]
usages = ["initiate"]
client_keytab = "/etc/gssgate/clients/%u.keytab"
export_context = true
store_creds = true
delegate = true
)";

TEST(ConfigTest, ParsesSettingsAndRulesWithNamesResolved) {
  auto config = parse_config(kGood, "good.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->daemon.socket_path, "/run/gssgate/test.sock");
  EXPECT_EQ(config->daemon.socket_mode, 0600u);
  EXPECT_EQ(config->daemon.max_connections, 10);
  EXPECT_EQ(config->daemon.max_message_bytes, 65536);
  EXPECT_EQ(config->daemon.idle_timeout_seconds, 60);
  ASSERT_EQ(config->rules.size(), 2u);
  const Rule& web = config->rules[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.line, 9);
  EXPECT_THAT(web.uids, ElementsAre(33, 34, 0));  // "root" resolved to 0
  EXPECT_TRUE(web.allow_accept);
  EXPECT_FALSE(web.allow_initiate);
  EXPECT_EQ(web.max_handles, 5u);
  EXPECT_FALSE(web.allow_export_context);
  const Rule& batch = config->rules[1];
  EXPECT_THAT(batch.gids, ElementsAre(100, 0));
  EXPECT_TRUE(batch.allow_export_context);
  EXPECT_TRUE(batch.allow_store_creds);
  EXPECT_FALSE(web.allow_store_creds);
  EXPECT_TRUE(batch.allow_delegate);
  EXPECT_FALSE(batch.allow_accept_delegated);
  EXPECT_FALSE(web.allow_delegate);
  EXPECT_EQ(batch.max_handles, 1000u);
  std::string text = describe(*config);
  EXPECT_THAT(text, HasSubstr("[web] line 9: uids {33, 34, 0}"));
  EXPECT_THAT(text, HasSubstr("principals: HTTP/*@EXAMPLE.COM"));
  EXPECT_THAT(text, HasSubstr("grants: none beyond the usages"));
  EXPECT_THAT(text, HasSubstr("grants: export_context, store_creds, delegate\n"));
}

TEST(ConfigTest, TheReplayCacheIsGssgatedsUnlessMitsIsAskedFor) {
  auto config = parse_config(kGood, "good.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->daemon.replay_cache, DaemonSettings::ReplayCacheKind::kGssgated);
  config = parse_config("[daemon]\nreplay_cache = \"mit\"\n", "mit.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->daemon.replay_cache, DaemonSettings::ReplayCacheKind::kMit);
  config = parse_config("[daemon]\nreplay_cache = \"memory\"\n", "bad.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("bad.toml:2"));
  EXPECT_THAT(config.status().message(),
              HasSubstr("replay_cache is \"gssgated\" or \"mit\", not \"memory\""));
}

// Issue #14, item 6: a * never crosses '/' in principals (cgroups: policy_test.cc).
TEST(ConfigTest, PatternsNeverLetAStarCrossASlash) {
  Rule rule;
  rule.principals = {"*@EXAMPLE.COM"};
  EXPECT_TRUE(principal_allowed(rule, "alice@EXAMPLE.COM"));
  EXPECT_FALSE(principal_allowed(rule, "HTTP/web1@EXAMPLE.COM")) << "a user pattern is no service";
  rule.principals = {"HTTP/*@EXAMPLE.COM"};
  EXPECT_FALSE(principal_allowed(rule, "HTTP/a/b@EXAMPLE.COM"));
}

TEST(ConfigTest, PrincipalPatterns) {
  Rule rule;
  EXPECT_TRUE(principal_allowed(rule, "anyone@ANY")) << "no patterns: the stores decide";
  rule.principals = {"HTTP/*@EXAMPLE.COM", "alice@EXAMPLE.COM"};
  EXPECT_TRUE(principal_allowed(rule, "HTTP/web1@EXAMPLE.COM"));
  EXPECT_TRUE(principal_allowed(rule, "alice@EXAMPLE.COM"));
  EXPECT_FALSE(principal_allowed(rule, "alice@EVIL.COM"));
  EXPECT_FALSE(principal_allowed(rule, "bob@EXAMPLE.COM"));
}

// Issue 17, section 3: several sockets, each with the rules that apply to its callers.
constexpr char kListeners[] = R"(
[daemon]
socket_mode = "0660"
max_connections = 50

[[listener]]
name = "host"
path = "/run/gssgate/gssgate.sock"

[[listener]]
name = "containers"
path = "/run/gssgate/containers/gssgate.sock"
mode = "0666"
max_connections = 10
max_connections_per_uid = 2
rules = ["pods"]

[[listener]]
name = "containers-wire"
path = "/run/gssgate/containers/gssgate.wire"
transport = "wire"
rules = ["pods", "web"]

[[rule]]
name = "web"
uids = [33]
usages = ["accept"]
keytab = "/etc/gssgate/http.keytab"

[[rule]]
name = "pods"
cgroups = ["/kubepods/**"]
usages = ["initiate"]
ccache = "MEMORY:pods"
)";

TEST(ConfigTest, ListenersTakeTheirDefaultsFromDaemonAndNameTheirRules) {
  auto config = parse_config(kListeners, "listeners.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 3u);
  const ListenerSettings& host = config->listeners[0];
  EXPECT_EQ(host.name, "host");
  EXPECT_EQ(host.line, 6);
  EXPECT_EQ(host.transport, ListenerSettings::Transport::kGrpc);
  EXPECT_EQ(host.mode, 0660u);
  EXPECT_EQ(host.max_connections, 50);
  EXPECT_EQ(host.max_connections_per_uid, 128);
  EXPECT_TRUE(host.all_rules);
  EXPECT_THAT(host.applies, ElementsAre(true, true));
  const ListenerSettings& pods = config->listeners[1];
  EXPECT_EQ(pods.mode, 0666u);
  EXPECT_EQ(pods.max_connections, 10);
  EXPECT_EQ(pods.max_connections_per_uid, 2);
  EXPECT_FALSE(pods.all_rules);
  EXPECT_THAT(pods.applies, ElementsAre(false, true));
  const ListenerSettings& wire = config->listeners[2];
  EXPECT_EQ(wire.transport, ListenerSettings::Transport::kWire);
  EXPECT_THAT(wire.applies, ElementsAre(true, true));
  EXPECT_EQ(config->listener("containers"), &pods);
  EXPECT_EQ(config->listener("nope"), nullptr);
  const std::string text = describe(*config);
  EXPECT_THAT(text, HasSubstr("3 listener(s):\n  [host] /run/gssgate/gssgate.sock (grpc, mode "
                              "0660), max_connections 50 (128 per uid); rules: all\n"));
  EXPECT_THAT(text, HasSubstr("[containers-wire] /run/gssgate/containers/gssgate.wire (wire, "
                              "mode 0660), max_connections 50 (128 per uid); rules: pods, web\n"));
}

TEST(ConfigTest, WithoutListenersDaemonsSocketsAreGrpcAndWire) {
  auto config = parse_config(kGood, "good.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 2u);
  EXPECT_EQ(config->listeners[0].name, "grpc");
  EXPECT_EQ(config->listeners[0].path, "/run/gssgate/test.sock");
  EXPECT_EQ(config->listeners[0].mode, 0600u);
  EXPECT_EQ(config->listeners[0].max_connections, 10);
  EXPECT_EQ(config->listeners[1].name, "wire");
  EXPECT_EQ(config->listeners[1].path, "/run/gssgate/test.wire");
  EXPECT_EQ(config->listeners[1].transport, ListenerSettings::Transport::kWire);
  EXPECT_THAT(config->listeners[1].applies, ElementsAre(true, true));

  auto no_wire = parse_config("[daemon]\nwire_socket = \"\"\n", "no-wire.toml");
  ASSERT_TRUE(no_wire.ok()) << no_wire.status();
  ASSERT_EQ(no_wire->listeners.size(), 1u);
  EXPECT_EQ(no_wire->listeners[0].path, "/run/gssgate/gssgate.sock");
}

TEST(ConfigTest, ListenerMistakesAreRefusedWithTheLineAndTheFix) {
  const std::string rule =
      "[[rule]]\nname = \"a\"\nuids = [1]\nusages = [\"initiate\"]\n"
      "ccache = \"MEMORY:a\"\n";
  const std::string l1 = "[[listener]]\nname = \"one\"\npath = \"/run/one.sock\"\n";
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {"[daemon]\nsocket = \"/run/x.sock\"\n" + l1 + rule,
       "x.toml:2:10: [daemon] socket and [[listener]] sections exclude each other"},
      {"[daemon]\nwire_socket = \"\"\n" + l1 + rule, "[daemon] wire_socket and [[listener]]"},
      {l1 + "[[listener]]\nname = \"one\"\npath = \"/run/two.sock\"\n" + rule,
       "x.toml:4:1: listener \"one\" repeats the name of the listener at line 1"},
      {l1 + "[[listener]]\nname = \"two\"\npath = \"/run/one.sock\"\n" + rule,
       "listener \"two\" repeats the path of the listener at line 1"},
      {"[[listener]]\npath = \"/run/one.sock\"\n" + rule, "a [[listener]] needs a name"},
      {"[[listener]]\nname = \"a b\"\npath = \"/run/one.sock\"\n" + rule,
       "x.toml:2:8: a [[listener]] needs a name of letters"},
      {"[[listener]]\nname = \"one\"\n" + rule, "listener \"one\" needs an absolute path"},
      {"[[listener]]\nname = \"one\"\npath = \"run/one.sock\"\n" + rule,
       "listener \"one\" needs an absolute path"},
      {l1 + "transport = \"udp\"\n" + rule, "x.toml:4:13: transport is \"grpc\""},
      {l1 + "mode = \"rw\"\n" + rule, "mode must be an octal string"},
      {l1 + "group = \"no-such-group-here\"\n" + rule, "no such group \"no-such-group-here\""},
      {l1 + "max_connections = 0\n" + rule, "max_connections = 0 is out of range"},
      {l1 + "socket = \"/x\"\n" + rule, "unknown key \"socket\" in [[listener]] #1"},
      {l1 + "rules = [\"a\", \"b\"]\n" + rule,
       "x.toml:1: listener \"one\" names rule \"b\", which is not in the file (its rules: a)"},
      {l1 + "rules = [1]\n" + rule, "rules takes rule names"},
      {l1 + "rules = []\n" + rule,
       "x.toml:5: rule \"a\" applies on no listener: name it in the rules of a [[listener]]"},
      {"listener = []\n" + rule, "listener = [] serves no socket"},
      {l1 + "rules = [\"a\", \"a\"]\n" + rule, "listener \"one\" names rule \"a\" twice"},
      {l1 + "rules = [\"a\", \"rule-2\"]\n" + rule +
           "[[rule]]\nuids = [2]\nusages = [\"initiate\"]\nccache = \"MEMORY:b\"\n",
       "listener \"one\" names \"rule-2\", the rule at line 10 by its position; give that rule a "
       "name"},
      {l1 + "[[listener]]\nname = \"two\"\npath = \"/run//one.sock\"\n" + rule,
       "listener \"two\" repeats the path of the listener at line 1"},
  };
  for (const Case& c : cases) {
    auto config = parse_config(c.text, "x.toml");
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_THAT(config.status().message(), HasSubstr(c.error)) << c.text;
  }
}

// A reload keeps the sockets. A listener the file drops, or moves to another path or transport,
// leaves the policy in force (its callers are refused until a restart); the others' rules change.
TEST(ConfigTest, AReloadLeavesOutListenersWhoseSocketsTheFileNoLongerDescribes) {
  auto started = parse_config(kListeners, "listeners.toml");
  ASSERT_TRUE(started.ok()) << started.status();
  std::string changed = kListeners;
  const size_t wire = changed.find("[[listener]]\nname = \"containers-wire\"");
  changed.erase(wire, changed.find("[[rule]]") - wire);
  changed.replace(changed.find("/run/gssgate/gssgate.sock"), 25, "/run/gssgate/moved.sock");
  changed.replace(changed.find("rules = [\"pods\"]"), 16, "rules = [\"web\", \"pods\"]");
  changed.replace(changed.find("mode = \"0666\""), 13, "mode = \"0600\"");
  auto next = parse_config(changed, "listeners.toml");
  ASSERT_TRUE(next.ok()) << next.status();
  fit_to_running_sockets(started->listeners, &*next);
  EXPECT_EQ(next->listener("containers-wire"), nullptr) << "dropped from the file";
  EXPECT_EQ(next->listener("host"), nullptr) << "moved: its socket is still the old path";
  const ListenerSettings* containers = next->listener("containers");
  ASSERT_NE(containers, nullptr);
  EXPECT_THAT(containers->applies, ElementsAre(true, true)) << "rules change at once";

  // Another spelling of the same path is the same socket: the listener stays.
  std::string respelled = kListeners;
  respelled.replace(respelled.find("/run/gssgate/gssgate.sock"), 25,
                    "/run//gssgate/./gssgate.sock");
  next = parse_config(respelled, "listeners.toml");
  ASSERT_TRUE(next.ok()) << next.status();
  fit_to_running_sockets(started->listeners, &*next);
  EXPECT_NE(next->listener("host"), nullptr);
  EXPECT_TRUE(same_socket_path("/run//a/./b.sock", "/run/a/b.sock"));
  EXPECT_FALSE(same_socket_path("", ""));
  EXPECT_FALSE(same_socket_path("/run/a.sock", "/run/b.sock"));
}

// Without [[listener]] tables a socket from systemd at the unit's path is the listener of its
// type (ListenerTest): a reload keeps it, though the file still names [daemon]'s path.
TEST(ConfigTest, AReloadKeepsDaemonListenersServingTheUnitsPath) {
  auto started = parse_config("[daemon]\nsocket = \"/run/gssgate/gssgate.sock\"\n", "d.toml");
  ASSERT_TRUE(started.ok()) << started.status();
  std::vector<ListenerSettings> serving = started->listeners;
  serving[0].path = "/run/other/from-the-unit.sock";  // as main() serves a socket from systemd
  auto next = parse_config("[daemon]\nsocket = \"/run/gssgate/gssgate.sock\"\n", "d.toml");
  ASSERT_TRUE(next.ok()) << next.status();
  fit_to_running_sockets(serving, &*next);
  const ListenerSettings* grpc = next->listener("grpc");
  ASSERT_NE(grpc, nullptr) << "the listener must stay in the policy";
  EXPECT_EQ(grpc->path, "/run/other/from-the-unit.sock");
  EXPECT_NE(next->listener("wire"), nullptr);
}

// The container policy shipped in deploy/ loads, and keeps containers on a socket of their own.
TEST(ConfigTest, TheShippedContainerPolicyLoadsWithItsOwnContainerSockets) {
  std::ifstream in(std::string(GSSGATE_SOURCE_DIR) + "/deploy/containers/gssgated.containers.toml");
  std::stringstream text;
  text << in.rdbuf();
  std::string policy = text.str();
  ASSERT_FALSE(policy.empty());
  // Its socket group is made by gssgate's sysusers.d file, which this machine may not have run.
  if (getgrnam("gssgate") == nullptr) {
    const size_t at = policy.find("socket_group = \"gssgate\"");
    ASSERT_NE(at, std::string::npos);
    policy.replace(at, 24, "socket_group = \"root\"");
  }
  auto config = parse_config(policy, "gssgated.containers.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 4u);
  const ListenerSettings* containers = config->listener("containers");
  ASSERT_NE(containers, nullptr);
  EXPECT_EQ(containers->mode, 0666u);
  EXPECT_THAT(containers->rules, ElementsAre("web-container", "pods", "batch-container"));
  const ListenerSettings* host = config->listener("host");
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->mode, 0660u);
  EXPECT_THAT(host->rules, ElementsAre("host-services"));
}

}  // namespace
}  // namespace gssgate::daemon
