#include "daemon/config.h"

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

TEST(ConfigTest, FirstMatchingRuleWinsByUidThenGroupsIncludingSupplementary) {
  auto config = parse_config(kGood, "good.toml");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(match_rule(*config, 33, 5000, {})->name, "web");
  EXPECT_EQ(match_rule(*config, 0, 0, {})->name, "web");  // uid before the later group rule
  EXPECT_EQ(match_rule(*config, 5000, 100, {})->name, "batch");
  EXPECT_EQ(match_rule(*config, 5000, 5000, {7, 100})->name, "batch");
  EXPECT_EQ(match_rule(*config, 5000, 5000, {7}), nullptr);
}

TEST(ConfigTest, CgroupPatternsSelectAloneOrNarrowIds) {
  auto config = parse_config(R"(
[[rule]]
name = "web-in-docker"
uids = [10080]
cgroups = ["/system.slice/docker-*.scope"]
usages = ["accept"]
keytab = "/k"

[[rule]]
name = "any-pod"
cgroups = ["/kubepods/**"]
usages = ["accept"]
keytab = "/k"
)",
                             "cg.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const Rule* in_docker = match_rule(*config, 10080, 1, {}, "/system.slice/docker-abc.scope");
  ASSERT_NE(in_docker, nullptr);
  EXPECT_EQ(in_docker->name, "web-in-docker");
  // The uid outside the cgroup, or the cgroup with another uid, is not "web-in-docker".
  EXPECT_EQ(match_rule(*config, 10080, 1, {}, "/user.slice/session-1.scope"), nullptr);
  EXPECT_EQ(match_rule(*config, 10081, 1, {}, "/system.slice/docker-abc.scope"), nullptr);
  // A pattern alone selects; /** takes every cgroup below; an unknown cgroup matches no pattern.
  const Rule* pod = match_rule(*config, 5, 5, {}, "/kubepods/burstable/pod1/c1");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->name, "any-pod");
  EXPECT_EQ(match_rule(*config, 5, 5, {}, ""), nullptr);
  EXPECT_THAT(describe(*config), HasSubstr("cgroups {/kubepods/**}"));
  auto bad = parse_config(
      "[[rule]]\ncgroups = [\"docker\"]\nusages = [\"accept\"]\nkeytab = \"/k\"\n", "bad.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("bad.toml:2:"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("starting with /"));
}

TEST(ConfigTest, TheWireSocketSitsBesideTheGrpcSocketUnlessNamedOrTurnedOff) {
  auto derived = parse_config(kGood, "good.toml");
  ASSERT_TRUE(derived.ok()) << derived.status();
  EXPECT_EQ(derived->daemon.wire_socket_path, "/run/gssgate/test.wire");
  auto appended = parse_config("[daemon]\nsocket = \"/run/g/sock\"\n", "t.toml");
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->daemon.wire_socket_path, "/run/g/sock.wire");
  auto named = parse_config("[daemon]\nwire_socket = \"/srv/w\"\n", "t.toml");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->daemon.wire_socket_path, "/srv/w");
  EXPECT_THAT(describe(*named), HasSubstr(" and wire socket /srv/w"));
  auto off = parse_config("[daemon]\nwire_socket = \"\"\n", "t.toml");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->daemon.wire_socket_path, "");
  EXPECT_THAT(describe(*off), Not(HasSubstr("wire socket")));
}

TEST(ConfigTest, ErrorsNameTheFileLineAndReason) {
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"[[rule]]\nname = \"r\"\nuids = [1]\nusages = [\"initiate\"]\nccache = \"MEMORY:x\"\nbogus "
       "= 1\n",
       "t.toml:6:1: unknown key \"bogus\" in [[rule]] #1"},
      {"[daemon]\nsocket = \"relative.sock\"\n", "t.toml:2:10: socket must be an absolute path"},
      {"[daemon]\nwire_socket = \"g.wire\"\n",
       "t.toml:2:15: wire_socket must be an absolute path, or \"\" for no wire socket"},
      {"[daemon]\nsocket = \"/run/g/a\"\nwire_socket = \"/run/g/a\"\n",
       "socket and wire_socket are both /run/g/a; give the wire socket a path of its own"},
      {"[daemon]\nsocket_mode = \"999\"\n", "socket_mode must be an octal string"},
      {"[daemon]\nmax_connections = 0\n", "max_connections = 0 is out of range"},
      {"[[rule]]\nname = \"r\"\nusages = [\"accept\"]\nkeytab = \"/k\"\n", "matches nobody"},
      {"[[rule]]\nuids = [1]\nusages = [\"fly\"]\n", "t.toml:3:11: usages takes"},
      {"[[rule]]\nuids = [1]\nusages = [\"accept\"]\n", "grants accept but names no keytab"},
      {"[[rule]]\nuids = [1]\nusages = [\"initiate\"]\n", "names no client_keytab or ccache"},
      {"[[rule]]\nuids = [1]\nusages = [\"accept\"]\nkeytab = \"/k/%x\"\n", "unknown %-sequence"},
      {"[[rule]]\nusers = [\"no-such-user-gssgate\"]\n", "no such user \"no-such-user-gssgate\""},
      {"[[rule]]\nuids = [-1]\n", "t.toml:2:9: uids takes non-negative integers"},
      {"[[rule]\n", "t.toml:1:"},
      {"rule = 1\n", "rules are written as [[rule]] tables"},
      {"[[rule]]\nuids = [1]\nusages = [\"accept\"]\nkeytab = \"/k\"\nmechs = [\"ntlm\"]\n",
       "t.toml:5:10: mechs takes krb5, krb5_old, krb5_ms, iakerb, spnego or dotted OIDs"},
      {"[[rule]]\nuids = [1]\nusages = [\"accept\"]\nkeytab = \"/k\"\nmechs = []\n",
       "allows no mechanism"},
      {"[[rule]]\nuids = [1]\nusages = [\"accept\"]\nkeytab = \"/k\"\nmechs = [\"spnego\"]\n",
       "allows SPNEGO but no mechanism for it to negotiate: add krb5"},
      {"[[rule]]\nname = \"a\"\nuids = [1]\nusages = [\"accept\"]\nkeytab = \"/k\"\n\n"
       "[[rule]]\nname = \"a\"\nuids = [2]\nusages = [\"accept\"]\nkeytab = \"/k\"\n",
       "t.toml:7:1: rule name \"a\" repeats the rule at line 1; rule names must be unique"},
  };
  for (const Case& c : cases) {
    auto config = parse_config(c.text, "t.toml");
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.expected)) << c.text;
  }
}

TEST(ConfigTest, MechanismsDefaultToKrb5AndSpnegoAndTakeNamesOrDottedOids) {
  auto config = parse_config(
      "[[rule]]\nname = \"d\"\nuids = [1]\nusages = [\"accept\"]\nkeytab = \"/k\"\n\n"
      "[[rule]]\nname = \"m\"\nuids = [2]\nusages = [\"accept\"]\nkeytab = \"/k\"\n"
      "mechs = [\"krb5_ms\", \"1.3.5.1.5.2\", \"krb5\", \"krb5\"]\n",
      "m.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  const Rule& d = config->rules[0];
  const Rule& m = config->rules[1];
  EXPECT_THAT(d.mechs, ElementsAre(gss::oids::krb5(), gss::oids::spnego()));
  EXPECT_TRUE(mech_allowed(d, gss::oids::spnego()));
  EXPECT_FALSE(mech_allowed(d, gss::oids::krb5_ms()));
  EXPECT_FALSE(mech_allowed(d, gss::oids::iakerb()));
  // Repeats are dropped; order is kept.
  EXPECT_THAT(m.mechs, ElementsAre(gss::oids::krb5_ms(), gss::oids::krb5_old(), gss::oids::krb5()));
  EXPECT_FALSE(mech_allowed(m, gss::oids::spnego()));
  EXPECT_EQ(mech_list(m), "krb5_ms, krb5_old, krb5");
  EXPECT_EQ(mech_label(gss::oids::krb5_ms()), "krb5_ms (1.2.840.48018.1.2.2)");
  EXPECT_EQ(mech_label(gss::oids::ntlm()), "1.3.6.1.4.1.311.2.2.10");
  EXPECT_THAT(describe(*config), HasSubstr("mechs krb5, spnego"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto config = load_config("/nonexistent/gssgated.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("/nonexistent/gssgated.toml"));
}

TEST(ConfigTest, TemplatesExpandUidAndUserName) {
  EXPECT_EQ(*expand_template("/k/%U.keytab", 1234), "/k/1234.keytab");
  EXPECT_EQ(*expand_template("/k/%u.keytab", 0), "/k/root.keytab");
  EXPECT_EQ(*expand_template("100%%", 1), "100%");
  auto no_user = expand_template("/k/%u", 4000000000u);
  EXPECT_EQ(no_user.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(expand_template("/k/%", 1).ok());
}

TEST(ConfigTest, ImpersonationIsOffUnlessGrantedAndThenLimitedByItsPatterns) {
  auto config = parse_config(
      "[[rule]]\nuids = [1]\nusages = [\"initiate\"]\nccache = \"MEMORY:x\"\n"
      "impersonate = true\nimpersonate_principals = [\"*@EXAMPLE.COM\"]\n"
      "[[rule]]\nuids = [2]\nusages = [\"initiate\"]\nccache = \"MEMORY:y\"\n",
      "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(impersonation_allowed(config->rules[0], "alice@EXAMPLE.COM"));
  EXPECT_FALSE(impersonation_allowed(config->rules[0], "alice@OTHER.COM"));
  EXPECT_FALSE(impersonation_allowed(config->rules[1], "alice@EXAMPLE.COM")) << "off by default";
}

// Issue #14, item 6: a * never crosses '/', in cgroups and in principals.
TEST(ConfigTest, PatternsNeverLetAStarCrossASlash) {
  EXPECT_TRUE(cgroup_matches("/system.slice/docker-*.scope", "/system.slice/docker-abc.scope"));
  EXPECT_FALSE(cgroup_matches("/system.slice/*", "/system.slice/evil.slice/docker-x.scope"));
  EXPECT_FALSE(cgroup_matches("/kubepods*", "/kubepods/burstable/pod1/c1"));
  EXPECT_TRUE(cgroup_matches("/kubepods/**", "/kubepods/burstable/pod1/c1"));
  EXPECT_TRUE(cgroup_matches("/kubepods/**", "/kubepods/pod1"));
  EXPECT_FALSE(cgroup_matches("/kubepods/**", "/kubepods"));
  EXPECT_FALSE(cgroup_matches("/kubepods/**", "/kubepodsX/pod1"));
  EXPECT_TRUE(cgroup_matches("/kubepods/*/pod*/**", "/kubepods/burstable/pod1/c1"));
  EXPECT_FALSE(cgroup_matches("/kubepods/*/pod*/**", "/kubepods/burstable/x/pod1/c1"));
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

}  // namespace
}  // namespace gssgate::daemon
