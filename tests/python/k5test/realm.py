"""k5test.realm: a throwaway MIT realm (kdb5_util, kadmin.local, krb5kdc) in a temporary dir.

K5Realm() builds the realm KRBTEST.COM with the principals k5test's users expect (user, user/admin
and host/<fqdn>, the last in realm.keytab), starts the KDC on a free loopback port and gets
tickets for user into realm.ccache. realm.env is the environment that points MIT at it.

When GSSGATE_K5TEST_GSSGATED names a gssgated binary, the realm also starts that daemon with one
rule for the calling uid whose stores are this realm's (keytab, client keytab, ccache, and the
extra stores listed below), on the socket GSSGATE_K5TEST_SOCKET. The process under test has
opted into gssgate's interposer module (GSSGATE_INTERPOSE=1, GSS_MECH_CONFIG) and talks to that
socket; when the next realm starts a new daemon on it, the module connects to the new one.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

# The stores test_high_level.py names in cred_store arguments, granted by the gssgated rule.
_EXTRA_CCACHE = 'other_ccache'
_EXTRA_KEYTAB = 'other_keytab'


def _tool(name):
    for d in ('/usr/sbin', '/usr/bin', '/sbin', '/bin'):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError('k5test: %s is not installed (krb5-kdc, krb5-admin-server, krb5-user)'
                       % name)


def _free_port():
    # A port free for TCP and UDP on 127.0.0.1 now; start_kdc() retries if the KDC loses it.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(('127.0.0.1', 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(('127.0.0.1', port))
                    return port
                except OSError:
                    continue


def _die_with_parent():
    # preexec_fn: the KDC and gssgated get SIGKILL when this test process dies, whatever way it
    # ends (PR_SET_PDEATHSIG), so a crashed or killed suite never leaves them running.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def _accepts(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.2):
            return True
    except OSError:
        return False


class K5Realm:
    """A functional MIT test realm. Arguments follow k5test's; only the common ones are kept."""

    provider = 'mit'

    def __init__(self, realm='KRBTEST.COM', create_user=True, get_creds=True,
                 create_host=True, start_kdc=True, **ignored):
        self.realm = realm
        self.tmpdir = tempfile.mkdtemp(suffix='-krbtest')
        self.hostname = socket.getfqdn()
        self.user_princ = 'user@' + realm
        self.admin_princ = 'user/admin@' + realm
        self.host_princ = 'host/%s@%s' % (self.hostname, realm)
        self.nfs_princ = 'nfs/%s@%s' % (self.hostname, realm)
        self.krbtgt_princ = 'krbtgt/%s@%s' % (realm, realm)
        self.keytab = os.path.join(self.tmpdir, 'keytab')
        self.client_keytab = os.path.join(self.tmpdir, 'client_keytab')
        self.ccache = os.path.join(self.tmpdir, 'ccache')
        self._kdc = None
        self._gssgated = None
        self.port = _free_port()
        self.env = {
            'KRB5_CONFIG': os.path.join(self.tmpdir, 'krb5.conf'),
            'KRB5_KDC_PROFILE': os.path.join(self.tmpdir, 'kdc.conf'),
            'KRB5CCNAME': self.ccache,  # bare, as MIT's k5test sets it (test_krb5_ccache_name compares it)
            'KRB5_KTNAME': 'FILE:' + self.keytab,
            'KRB5_CLIENT_KTNAME': 'FILE:' + self.client_keytab,
            'KRB5RCACHEDIR': self.tmpdir,
        }
        try:
            self._write_configs()
            self.run([_tool('kdb5_util'), 'create', '-s', '-r', realm, '-P', 'master'])
            if create_user:
                self.addprinc(self.user_princ, self.password('user'))
                self.addprinc(self.admin_princ, self.password('admin'))
            if create_host:
                self.addprinc(self.host_princ)
                self.extract_keytab(self.host_princ, self.keytab)
            if start_kdc:
                self.start_kdc()
                if create_user and get_creds:
                    self.kinit(self.user_princ, self.password('user'))
            if os.environ.get('GSSGATE_K5TEST_GSSGATED'):
                self._start_gssgated()
        except BaseException:
            self.stop()
            raise

    # -- configuration ---------------------------------------------------------------------
    def _write_configs(self):
        with open(self.env['KRB5_CONFIG'], 'w') as f:
            f.write('[libdefaults]\n'
                    '\tdefault_realm = %(r)s\n'
                    '\tdns_lookup_kdc = false\n'
                    '\tdns_lookup_realm = false\n'
                    # No DNS and no [domain_realm]: a host-based name keeps the host name
                    # as given and an empty realm until it is used (a referral), as
                    # test_high_level.py expects of MIT.
                    '\tdns_canonicalize_hostname = false\n'
                    '\trdns = false\n'
                    '[realms]\n'
                    '\t%(r)s = {\n\t\tkdc = 127.0.0.1:%(p)d\n'
                    '\t\tadmin_server = 127.0.0.1:%(p1)d\n\t}\n'
                    % {'r': self.realm, 'p': self.port, 'p1': self.port + 1})
        with open(self.env['KRB5_KDC_PROFILE'], 'w') as f:
            f.write('[kdcdefaults]\n'
                    '\tkdc_listen = 127.0.0.1:%(p)d\n'
                    '\tkdc_tcp_listen = 127.0.0.1:%(p)d\n'
                    '[realms]\n'
                    '\t%(r)s = {\n'
                    '\t\tdatabase_name = %(d)s/db\n'
                    '\t\tkey_stash_file = %(d)s/stash\n'
                    '\t\tacl_file = %(d)s/acl\n'
                    '\t\tmax_life = 1d\n\t\tmax_renewable_life = 7d\n'
                    '\t\tsupported_enctypes = aes256-cts-hmac-sha1-96:normal '
                    'aes128-cts-hmac-sha1-96:normal\n'
                    '\t}\n'
                    '[logging]\n\tkdc = FILE:%(d)s/kdc.log\n\tdefault = FILE:%(d)s/krb5.log\n'
                    % {'r': self.realm, 'd': self.tmpdir, 'p': self.port})
        with open(os.path.join(self.tmpdir, 'acl'), 'w') as f:
            f.write('%s *\n' % self.admin_princ)

    def _gssgated_env(self):
        # The daemon's own environment: the realm, but never the interposer's opt-in.
        env = {k: v for k, v in os.environ.items()
               if k not in ('GSSGATE_INTERPOSE', 'GSS_MECH_CONFIG')}
        env.update(self.env)
        return env

    # -- running tools ---------------------------------------------------------------------
    def run(self, args, env=None, input=None, expected_code=0):
        full_env = dict(os.environ)
        # MIT's own tools never go through the interposer.
        full_env.pop('GSSGATE_INTERPOSE', None)
        full_env.update(self.env if env is None else env)
        proc = subprocess.run(args, env=full_env, input=input.encode() if input else None,
                              stdin=None if input else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if proc.returncode != expected_code:
            raise Exception('k5test: `%s` exited with %d, not %d: %s'
                            % (' '.join(args), proc.returncode, expected_code,
                               proc.stdout.decode(errors='replace').strip()))
        return proc.stdout

    def run_kadminl(self, query, **keywords):
        return self.run([_tool('kadmin.local'), '-q', query], **keywords)

    def password(self, name):
        """A password for `name`, the same on every call for this realm."""
        return name + os.path.basename(self.tmpdir)

    def addprinc(self, princname, password=None):
        if password:
            self.run_kadminl('addprinc -pw %s %s' % (password, princname))
        else:
            self.run_kadminl('addprinc -randkey %s' % princname)

    def change_password(self, principal, password=None, keysalt=None):
        args = 'cpw'
        if keysalt:
            args += ' -e %s' % keysalt
        args += (' -pw %s' % password) if password else ' -randkey'
        self.run_kadminl('%s %s' % (args, principal))

    def extract_keytab(self, princname, keytab):
        self.run_kadminl('ktadd -k %s -norandkey %s' % (keytab, princname))

    def kinit(self, princname, password=None, flags=None, verbose=True, **keywords):
        args = [_tool('kinit')] + list(flags or []) + [princname]
        return self.run(args, input=(password + '\n') if password else None, **keywords)

    def klist(self, ccache=None, **keywords):
        return self.run([_tool('klist')] + ([ccache] if ccache else []), **keywords)

    def klist_keytab(self, keytab=None, **keywords):
        return self.run([_tool('klist'), '-k'] + ([keytab] if keytab else []), **keywords)

    # -- daemons ---------------------------------------------------------------------------
    def start_kdc(self, args=None, env=None):
        for _ in range(5):
            self._kdc = subprocess.Popen(
                [_tool('krb5kdc'), '-n', '-r', self.realm] + list(args or []),
                env=dict(os.environ, **self.env), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if _accepts(self.port):
                    return
                if self._kdc.poll() is not None:
                    break
                time.sleep(0.02)
            self.stop_kdc()
            with open(os.path.join(self.tmpdir, 'kdc.log'), errors='replace') as log:
                if 'Address already in use' not in log.read():
                    break
            # Another process took the port: move the realm to a new one.
            self.port = _free_port()
            self._write_configs()
        raise Exception('k5test: krb5kdc did not start; see %s/kdc.log' % self.tmpdir)

    def stop_kdc(self):
        if self._kdc is not None:
            self._kdc.terminate()
            self._kdc.wait()
            self._kdc = None

    def _start_gssgated(self):
        socket_path = os.environ['GSSGATE_K5TEST_SOCKET']
        config = os.path.join(self.tmpdir, 'gssgated.toml')
        with open(config, 'w') as f:
            f.write('[daemon]\nsocket = "%s"\nsocket_mode = "0600"\n\n'
                    '[[rule]]\nname = "k5test"\nuids = [%d]\n'
                    'usages = ["initiate", "accept"]\n'
                    'keytab = "FILE:%s"\nclient_keytab = "FILE:%s"\nccache = "FILE:%s"\n'
                    'delegate = true\naccept_delegated = true\nexport_context = true\n'
                    'export_creds = true\nstore_creds = true\nimpersonate = true\n'
                    % (socket_path, os.getuid(), self.keytab, self.client_keytab, self.ccache))
        self._gssgated_log = os.path.join(self.tmpdir, 'gssgated.log')
        log = open(self._gssgated_log, 'w')
        self._gssgated = subprocess.Popen(
            [os.environ['GSSGATE_K5TEST_GSSGATED'], '--config', config, '--log-level', 'debug'],
            env=self._gssgated_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(self._gssgated_log, errors='replace') as f:
                if 'serving on' in f.read():
                    return
            if self._gssgated.poll() is not None:
                break
            time.sleep(0.02)
        with open(self._gssgated_log, errors='replace') as f:
            raise Exception('k5test: gssgated did not start; its log:\n' + f.read())

    def stop(self):
        if self._gssgated is not None:
            self._gssgated.send_signal(signal.SIGTERM)
            try:
                self._gssgated.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._gssgated.kill()
                self._gssgated.wait()
            keep = os.environ.get('GSSGATE_K5TEST_LOGS')
            if keep:
                with open(keep, 'a') as out, open(self._gssgated_log, errors='replace') as log:
                    out.write(log.read())
            self._gssgated = None
        self.stop_kdc()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
