// The listener's mapping from gRPC's "fd:N" peer string back to the accepted connection.

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/listener.h"
#include "gtest/gtest.h"

namespace gssgate::daemon {
namespace {

// Issue #14, item 6: a descriptor number names a socket only while it is the one accepted. Should
// fd N come to hold another socket (the kernel reuses numbers), the record must not apply to it.
TEST(ListenerTest, AnFdNumberMapsToItsPeerOnlyWhileItIsTheSocketAccepted) {
  char dir_template[] = "/tmp/gssgate-listener-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  DaemonSettings settings;
  settings.socket_path = dir + "/l.sock";
  auto listener = Listener::create(settings);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::atomic<int> handed{-1};
  (*listener)->start([&](int fd) { handed = fd; }, [](const Peer&, bool, const std::string&) {});

  int client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, settings.socket_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  for (int i = 0; i < 500 && handed < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int fd = handed;
  ASSERT_GE(fd, 0);
  const std::string peer = absl::StrCat("fd:", fd);
  std::optional<Peer> found = (*listener)->peer_for(peer);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->uid, getuid());
  EXPECT_EQ(found->pid, getpid());

  // Another socket under the same number.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  ASSERT_EQ(dup2(pair[0], fd), fd);
  EXPECT_FALSE((*listener)->peer_for(peer).has_value());
  EXPECT_FALSE((*listener)->peer_for("fd:not-a-number").has_value());
  EXPECT_FALSE((*listener)->peer_for("unix:/x").has_value());

  close(fd);
  close(pair[0]);
  close(pair[1]);
  close(client);
  (*listener)->stop();
  listener->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gssgate::daemon
