// The listener's mapping from gRPC's "fd:N" peer string back to the accepted connection.

#include "daemon/listener.h"

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
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gssgate::daemon {
namespace {

// Issue #14, item 6: a descriptor number names a socket only while it is the one accepted. Should
// fd N come to hold another socket (the kernel reuses numbers), the record must not apply to it.
TEST(ListenerTest, AnFdNumberMapsToItsPeerOnlyWhileItIsTheSocketAccepted) {
  char dir_template[] = "/tmp/gssgate-listener-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  ListenerSettings settings;
  settings.name = "test";
  settings.path = dir + "/l.sock";
  auto listener = Listener::create(settings, DaemonSettings());
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::atomic<int> handed{-1};
  (*listener)->start([&](int fd) { handed = fd; }, [](const Peer&, bool, const std::string&) {});

  int client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, settings.path.c_str(), sizeof(addr.sun_path) - 1);
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
  EXPECT_EQ(found->listener, "test");

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

// Issue 17, section 3: the sockets systemd passes go to listeners by FileDescriptorName=, else by
// path; one that no listener takes stops the start with what to change.
TEST(ListenerTest, SocketsFromSystemdGoToListenersByNameThenByPath) {
  auto listener = [](const char* name, const char* path, bool wire = false) {
    ListenerSettings l;
    l.name = name;
    l.path = path;
    l.transport = wire ? ListenerSettings::Transport::kWire : ListenerSettings::Transport::kGrpc;
    return l;
  };
  const std::vector<ListenerSettings> listeners = {
      listener("host", "/run/gssgate/gssgate.sock"),
      listener("host-wire", "/run/gssgate/gssgate.wire", true),
      listener("containers", "/run/gssgate-containers/gssgate.sock")};
  // Named: a socket at another path still goes to the listener its name names.
  auto taken = match_inherited(listeners, {{3, "containers", SOCK_STREAM, "/run/elsewhere.sock"},
                                           {4, "host-wire", SOCK_SEQPACKET, ""}});
  ASSERT_TRUE(taken.ok()) << taken.status();
  ASSERT_EQ(taken->size(), 3u);
  EXPECT_FALSE((*taken)[0].has_value()) << "host makes its own socket";
  ASSERT_TRUE((*taken)[1].has_value());
  EXPECT_EQ((*taken)[1]->fd, 4);
  ASSERT_TRUE((*taken)[2].has_value());
  EXPECT_EQ((*taken)[2]->fd, 3);
  // Unnamed (systemd then passes the unit's name for each): by path and type.
  taken = match_inherited(listeners,
                          {{3, "gssgated.socket", SOCK_STREAM, "/run/gssgate/gssgate.sock"},
                           {4, "gssgated.socket", SOCK_SEQPACKET, "/run/gssgate/gssgate.wire"}});
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ((*taken)[0]->fd, 3);
  EXPECT_EQ((*taken)[1]->fd, 4);
  EXPECT_FALSE((*taken)[2].has_value());
  // A socket of the wrong type for the listener of its name and path is no listener's.
  taken = match_inherited(listeners, {{5, "host", SOCK_SEQPACKET, "/run/gssgate/gssgate.sock"}});
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(taken.status().message()),
              ::testing::HasSubstr("systemd passed a SOCK_SEQPACKET socket (fd 5, "
                                   "/run/gssgate/gssgate.sock, FileDescriptorName host) that no "
                                   "listener takes"));
  taken = match_inherited(listeners, {{3, "gssgated.socket", SOCK_STREAM, "/run/other.sock"}});
  ASSERT_FALSE(taken.ok());
  EXPECT_THAT(std::string(taken.status().message()),
              ::testing::HasSubstr("a stream socket (fd 3, /run/other.sock, FileDescriptorName "
                                   "gssgated.socket) that no listener takes"));
  // Two sockets for one listener.
  taken = match_inherited(listeners, {{3, "host", SOCK_STREAM, "/run/x.sock"},
                                      {4, "", SOCK_STREAM, "/run/gssgate/gssgate.sock"}});
  ASSERT_FALSE(taken.ok());
  EXPECT_THAT(std::string(taken.status().message()),
              ::testing::HasSubstr("two sockets for listener \"host\" (fds 3 and 4)"));
}

}  // namespace
}  // namespace gssgate::daemon
