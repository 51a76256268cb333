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

}  // namespace
}  // namespace gssgate::daemon
