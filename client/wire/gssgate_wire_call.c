/* gssgate-wire-call: asks gssgated a question over the wire socket with the C client
 * (gssgate_wire.h), the way the interposer will. For checking a socket from a shell or a
 * container without libgssgate, and as the C client's smallest complete user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gssgate/v1/gssgate.pb-c.h"
#include "gssgate_wire.h"

#ifndef GSSGATE_VERSION
#define GSSGATE_VERSION "unknown"
#endif

enum { kOk = 0, kGssFailure = 1, kUsage = 2, kUnreachable = 3, kDenied = 4, kOther = 5 };

static const char kUsageText[] =
    "Usage: gssgate-wire-call [--socket PATH] COMMAND\n"
    "Calls gssgated over its wire socket (framed protobuf over SOCK_SEQPACKET) with the C client.\n"
    "\n"
    "commands:\n"
    "  whoami     how the daemon sees you: uid, gid, pid, cgroup, matched rule, its grants\n"
    "  mechs      the mechanisms the daemon offers (DER OIDs in hex)\n"
    "\n"
    "options:\n"
    "  --socket PATH   the wire socket (default: $GSSGATE_SOCKET, else " GSSGATE_WIRE_DEFAULT_SOCKET
    ")\n"
    "  --help          this text\n"
    "  --version       the version\n"
    "\n"
    "exit codes: 0 ok, 1 GSSAPI failure, 2 usage error, 3 daemon not reachable, 4 refused by\n"
    "            policy, 5 other error\n";

static int exit_code_for(uint32_t code) {
  switch (code) {
    case GSSGATE_WIRE_OK:
      return kOk;
    case GSSGATE_WIRE_UNAVAILABLE:
      return kUnreachable;
    case GSSGATE_WIRE_PERMISSION_DENIED:
      return kDenied;
    default:
      return kOther;
  }
}

static int fail(const gssgate_wire_status* status) {
  fprintf(stderr, "gssgate-wire-call: %s\n", status->message);
  return exit_code_for(status->code);
}

static int whoami(gssgate_wire* conn) {
  Gssgate__V1__WhoAmIRequest request = GSSGATE__V1__WHO_AM_IREQUEST__INIT;
  ProtobufCMessage* reply = NULL;
  gssgate_wire_status status;
  if (gssgate_wire_call(conn, "WhoAmI", &request.base, &reply, &status) != GSSGATE_WIRE_OK) {
    return fail(&status);
  }
  const Gssgate__V1__WhoAmIReply* who = (const Gssgate__V1__WhoAmIReply*)reply;
  printf("uid: %u\ngid: %u\npid: %d\n", who->uid, who->gid, who->pid);
  printf("cgroup: %s\nrule: %s\ngrants:", who->cgroup, who->rule);
  for (size_t i = 0; i < who->n_grants; ++i) printf(" %s", who->grants[i]);
  printf("\nlive handles: %u of %u\n", who->live_handles, who->max_handles);
  protobuf_c_message_free_unpacked(reply, NULL);
  return kOk;
}

static int mechs(gssgate_wire* conn) {
  Gssgate__V1__IndicateMechsRequest request = GSSGATE__V1__INDICATE_MECHS_REQUEST__INIT;
  ProtobufCMessage* reply = NULL;
  gssgate_wire_status status;
  if (gssgate_wire_call(conn, "IndicateMechs", &request.base, &reply, &status) != GSSGATE_WIRE_OK) {
    return fail(&status);
  }
  const Gssgate__V1__IndicateMechsReply* found = (const Gssgate__V1__IndicateMechsReply*)reply;
  int code = kOk;
  if (found->status != NULL && found->status->major != 0) {
    fprintf(stderr, "gssgate-wire-call: gss_indicate_mechs failed: %s\n",
            found->status->n_major_text > 0 ? found->status->major_text[0] : "(no text)");
    code = kGssFailure;
  }
  for (size_t i = 0; i < found->n_mechs && code == kOk; ++i) {
    for (size_t j = 0; j < found->mechs[i].len; ++j) printf("%02x", found->mechs[i].data[j]);
    printf("\n");
  }
  protobuf_c_message_free_unpacked(reply, NULL);
  return code;
}

int main(int argc, char** argv) {
  const char* socket_path = NULL;
  const char* command = NULL;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(kUsageText, stdout);
      return kOk;
    }
    if (strcmp(argv[i], "--version") == 0) {
      printf("gssgate-wire-call %s\n", GSSGATE_VERSION);
      return kOk;
    }
    if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
      socket_path = argv[++i];
    } else if (strncmp(argv[i], "--socket=", 9) == 0) {
      socket_path = argv[i] + 9;
    } else if (argv[i][0] != '-' && command == NULL) {
      command = argv[i];
    } else {
      fprintf(stderr, "gssgate-wire-call: unexpected argument \"%s\" (--help shows the usage)\n",
              argv[i]);
      return kUsage;
    }
  }
  int (*run)(gssgate_wire*) = NULL;
  if (command != NULL && strcmp(command, "whoami") == 0) run = whoami;
  if (command != NULL && strcmp(command, "mechs") == 0) run = mechs;
  if (run == NULL) {
    fprintf(stderr, "gssgate-wire-call: %s (--help shows the usage)\n",
            command == NULL ? "no command given" : "unknown command");
    return kUsage;
  }
  gssgate_wire_status status;
  gssgate_wire* conn = gssgate_wire_connect(socket_path, &status);
  if (conn == NULL) return fail(&status);
  const int code = run(conn);
  gssgate_wire_close(conn);
  return code;
}
