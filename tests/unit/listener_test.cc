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
// path; one that no listener takes, or that names a listener at another path, stops the start
// with what to change.
ListenerSettings listener(const char* name, const char* path, bool wire = false, int line = 1) {
  ListenerSettings l;
  l.name = name;
  l.path = path;
  l.line = line;
  l.transport = wire ? ListenerSettings::Transport::kWire : ListenerSettings::Transport::kGrpc;
  return l;
}

int fd_of(const absl::StatusOr<InheritedMatch>& m, size_t i) {
  return m.ok() && m->taken[i] ? m->taken[i]->fd : -1;
}

TEST(ListenerTest, SocketsFromSystemdGoToListenersByNameThenByPath) {
  const std::vector<ListenerSettings> listeners = {
      listener("host", "/run/gssgate/gssgate.sock"),
      listener("host-wire", "/run/gssgate/gssgate.wire", true),
      listener("containers", "/run/gssgate/containers/gssgate.sock")};
  // Named.
  auto m = match_inherited(listeners,
                           {{3, "containers", SOCK_STREAM, "/run/gssgate/containers/gssgate.sock"},
                            {4, "host-wire", SOCK_SEQPACKET, "/run/gssgate//gssgate.wire"}});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(fd_of(m, 0), -1) << "host makes its own socket";
  EXPECT_EQ(fd_of(m, 1), 4);
  EXPECT_EQ(fd_of(m, 2), 3);
  EXPECT_TRUE(m->unused.empty());
  // Unnamed (systemd then passes the unit's name for each): by path and type.
  m = match_inherited(listeners,
                      {{3, "gssgated.socket", SOCK_STREAM, "/run/gssgate/gssgate.sock"},
                       {4, "gssgated.socket", SOCK_SEQPACKET, "/run/gssgate/gssgate.wire"}});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(fd_of(m, 0), 3);
  EXPECT_EQ(fd_of(m, 1), 4);
  EXPECT_EQ(fd_of(m, 2), -1);

  struct Refused {
    std::vector<InheritedSocket> sockets;
    std::string error;
  };
  const Refused refused[] = {
      // A unit that names the wrong socket would give one socket's callers another's rules.
      {{{3, "host", SOCK_STREAM, "/run/gssgate/containers/gssgate.sock"}},
       "systemd passed a stream socket (fd 3, /run/gssgate/containers/gssgate.sock, "
       "FileDescriptorName host) for listener \"host\", whose path is /run/gssgate/gssgate.sock"},
      {{{5, "host", SOCK_SEQPACKET, "/run/gssgate/other.sock"}},
       "systemd passed a SOCK_SEQPACKET socket (fd 5, /run/gssgate/other.sock, "
       "FileDescriptorName host) that no listener takes"},
      {{{3, "gssgated.socket", SOCK_STREAM, "/run/other.sock"}},
       "a stream socket (fd 3, /run/other.sock, FileDescriptorName gssgated.socket) that no "
       "listener takes"},
      {{{3, "host", SOCK_STREAM, "/run/gssgate/gssgate.sock"},
        {4, "", SOCK_STREAM, "/run/gssgate/gssgate.sock"}},
       "two sockets for listener \"host\" (fds 3 and 4)"},
      {{{3, "host", SOCK_STREAM, "/run/gssgate/gssgate.sock", /*unix_listening=*/false}},
       "which is no listening Unix socket"},
  };
  for (const Refused& r : refused) {
    m = match_inherited(listeners, r.sockets);
    ASSERT_FALSE(m.ok()) << r.error;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(m.status().message()), ::testing::HasSubstr(r.error));
  }
}

// A file without [[listener]] takes sockets as gssgated did before listeners: by type, whatever
// their path (the unit's path is served), and closes those it has no use for (the shipped
// gssgated.socket passes a wire socket also to a daemon with wire_socket = "").
TEST(ListenerTest, WithoutListenerTablesSocketsGoByTypeAndExtraOnesAreLeftOver) {
  const std::vector<ListenerSettings> from_daemon = {
      listener("grpc", "/run/gssgate/gssgate.sock", false, /*line=*/0)};
  auto m = match_inherited(from_daemon, {{3, "gssgated.socket", SOCK_SEQPACKET, "/x.wire"},
                                         {4, "gssgated.socket", SOCK_STREAM, "/x.sock"}});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(fd_of(m, 0), 4);
  ASSERT_EQ(m->unused.size(), 1u);
  EXPECT_EQ(m->unused[0].fd, 3);
  // A socket at the listener's path wins over one taken by type, whichever systemd passes first
  // (a leftover containers socket unit must not take the host socket's place).
  m = match_inherited(from_daemon, {{3, "", SOCK_STREAM, "/run/gssgate/containers/gssgate.sock"},
                                    {4, "", SOCK_STREAM, "/run/gssgate/gssgate.sock"}});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(fd_of(m, 0), 4);
  ASSERT_EQ(m->unused.size(), 1u);
  EXPECT_EQ(m->unused[0].fd, 3);
  // Two strangers of one type: which was meant is a guess; neither is taken.
  m = match_inherited(from_daemon,
                      {{3, "", SOCK_STREAM, "/run/a.sock"}, {4, "", SOCK_STREAM, "/run/b.sock"}});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(fd_of(m, 0), -1);
  EXPECT_EQ(m->unused.size(), 2u);
}

}  // namespace
}  // namespace gssgate::daemon
