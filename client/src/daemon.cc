#include "gssgate/daemon.h"

#include "client/src/internal.h"

namespace gssgate {
namespace {

std::shared_ptr<Connection> conn(const std::shared_ptr<Connection>& c) {
  return c ? c : Connection::shared_default();
}

}  // namespace

WhoAmIResult whoami(const std::shared_ptr<Connection>& connection) {
  v1::WhoAmIReply reply;
  internal::call(*conn(connection), &v1::Gssgate::Stub::WhoAmI, v1::WhoAmIRequest(), &reply);
  WhoAmIResult out;
  out.uid = reply.uid();
  out.gid = reply.gid();
  out.pid = reply.pid();
  out.groups.assign(reply.groups().begin(), reply.groups().end());
  out.cgroup = reply.cgroup();
  out.executable = reply.executable();
  out.systemd_unit = reply.systemd_unit();
  out.executable_sha256 = reply.executable_sha256();
  out.listener = reply.listener();
  out.rule = reply.rule();
  out.grants.assign(reply.grants().begin(), reply.grants().end());
  out.principals.assign(reply.principals().begin(), reply.principals().end());
  out.stores.assign(reply.stores().begin(), reply.stores().end());
  out.max_handles = reply.max_handles();
  out.live_handles = reply.live_handles();
  return out;
}

DaemonStatus daemon_status(const std::shared_ptr<Connection>& connection) {
  v1::GetStatusReply reply;
  internal::call(*conn(connection), &v1::Gssgate::Stub::GetStatus, v1::GetStatusRequest(), &reply);
  DaemonStatus out{reply.version(),     reply.uptime_seconds(), reply.live_handles(),
                   reply.connections(), reply.rules(),          {}};
  for (const v1::ListenerStatus& l : reply.listeners()) {
    out.listeners.push_back(ListenerInfo{l.name(),
                                         l.path(),
                                         l.transport(),
                                         l.connections(),
                                         l.all_rules(),
                                         {l.rules().begin(), l.rules().end()}});
  }
  return out;
}

std::vector<HandleInfo> list_handles(bool all, const std::shared_ptr<Connection>& connection) {
  v1::ListHandlesRequest request;
  request.set_all(all);
  v1::ListHandlesReply reply;
  internal::call(*conn(connection), &v1::Gssgate::Stub::ListHandles, request, &reply);
  std::vector<HandleInfo> out;
  for (const v1::HandleInfo& h : reply.handles()) {
    out.push_back(HandleInfo{h.kind(), h.uid(), h.connection(), h.idle_seconds()});
  }
  return out;
}

uint32_t reload_policy(const std::shared_ptr<Connection>& connection) {
  v1::ReloadReply reply;
  internal::call(*conn(connection), &v1::Gssgate::Stub::Reload, v1::ReloadRequest(), &reply);
  return reply.rules();
}

std::string metrics_text(const std::shared_ptr<Connection>& connection) {
  v1::GetMetricsReply reply;
  internal::call(*conn(connection), &v1::Gssgate::Stub::GetMetrics, v1::GetMetricsRequest(),
                 &reply);
  return reply.text();
}

}  // namespace gssgate
