#!/usr/bin/python3
"""Issue 17, section 5: deploy/kubernetes checked without a cluster (none runs here).

The manifests parse; the DaemonSet runs in the node's pid namespace (or every rule by process
would fail closed), keeps MIT's replay cache on a writable volume under its read-only root, and
probes the daemon with `gssgate health` on the socket its policy serves; the policy in its
ConfigMap loads with `gssgated --check-config`; the example pod mounts that socket's directory,
runs as a uid the policy names, and uses the image the client Containerfile builds; the daemon's
Containerfile installs what the DaemonSet runs. What this cannot show (a kubelet running it) is
said in docs/operations.md.

Usage: manifests_test.py SOURCE_DIR GSSGATED
"""
import os
import subprocess
import sys
import tempfile
import tomllib
import unittest

import yaml

SOURCE, GSSGATED = sys.argv[1], sys.argv[2]
del sys.argv[1:3]


def load(path):
    with open(os.path.join(SOURCE, path)) as f:
        return list(yaml.safe_load_all(f))


class KubernetesManifests(unittest.TestCase):
    def setUp(self):
        docs = load('deploy/kubernetes/gssgated-daemonset.yaml')
        self.config_map = next(d for d in docs if d['kind'] == 'ConfigMap')
        self.daemon_set = next(d for d in docs if d['kind'] == 'DaemonSet')
        self.pod = load('deploy/kubernetes/example-pod.yaml')[0]
        self.policy_text = self.config_map['data']['gssgated.toml']
        self.policy = tomllib.loads(self.policy_text)
        self.spec = self.daemon_set['spec']['template']['spec']
        self.daemon = self.spec['containers'][0]

    def test_the_policy_loads(self):
        with tempfile.NamedTemporaryFile('w', suffix='.toml') as f:
            f.write(self.policy_text)
            f.flush()
            r = subprocess.run([GSSGATED, '--check-config', f.name], capture_output=True,
                               text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('rules: web', r.stdout)

    def test_the_daemon_sees_callers_pids_and_has_no_privileges(self):
        self.assertIs(self.spec.get('hostPID'), True)
        context = self.daemon['securityContext']
        self.assertIs(context['allowPrivilegeEscalation'], False)
        self.assertEqual(context['capabilities'], {'drop': ['ALL']})
        self.assertEqual(self.spec['securityContext']['seccompProfile'], {'type': 'RuntimeDefault'})

    def test_the_replay_cache_is_writable_under_a_read_only_root(self):
        self.assertIs(self.daemon['securityContext']['readOnlyRootFilesystem'], True)
        env = {e['name']: e['value'] for e in self.daemon['env']}
        rcache = env['KRB5RCACHEDIR']
        mount = next(m for m in self.daemon['volumeMounts'] if m['mountPath'] == rcache)
        self.assertFalse(mount.get('readOnly', False))
        volume = next(v for v in self.spec['volumes'] if v['name'] == mount['name'])
        self.assertIn('emptyDir', volume)

    def host_dir_of(self, path):
        """The node's directory behind `path` in the daemon's container, or None (no hostPath)."""
        for mount in self.daemon['volumeMounts']:
            if os.path.dirname(path) == mount['mountPath'] or \
                    path.startswith(mount['mountPath'].rstrip('/') + '/'):
                volume = next(v for v in self.spec['volumes'] if v['name'] == mount['name'])
                if 'hostPath' not in volume:
                    return None
                rel = os.path.relpath(os.path.dirname(path), mount['mountPath'])
                return os.path.normpath(os.path.join(volume['hostPath']['path'], rel))
        raise AssertionError('%s is on no volume of the daemon' % path)

    def test_probes_ask_the_health_service_on_a_socket_of_the_daemon_alone(self):
        # Callers without a rule share 16 slots per socket: a probe on a socket others can reach
        # could be starved, and a failing liveness probe restarts the daemon.
        listeners = {l['path']: l for l in self.policy['listener']}
        for probe in ('startupProbe', 'readinessProbe', 'livenessProbe'):
            command = self.daemon[probe]['exec']['command']
            self.assertEqual(command[0], '/usr/bin/gssgate')
            self.assertEqual(command[-1], 'health', probe)
            socket = command[command.index('--socket') + 1]
            self.assertIn(socket, listeners, probe)
            self.assertEqual(listeners[socket].get('mode'), '0600', probe)
            self.assertIsNone(self.host_dir_of(socket), probe + ': not on a hostPath')
            timeout = int(command[command.index('--timeout') + 1])
            self.assertGreater(self.daemon[probe]['timeoutSeconds'], timeout, probe)

    def test_the_example_pod_mounts_only_the_pods_socket_directory_as_a_uid_with_a_rule(self):
        pods = next(l for l in self.policy['listener'] if l['name'] == 'pods')
        volume = self.pod['spec']['volumes'][0]
        self.assertEqual(volume['hostPath']['path'], self.host_dir_of(pods['path']))
        container = self.pod['spec']['containers'][0]
        mount = container['volumeMounts'][0]
        self.assertEqual(mount['mountPath'], '/run/gssgate')  # the client's default socket dir
        uid = self.pod['spec']['securityContext']['runAsUser']
        rules = {r['name']: r for r in self.policy['rule']}
        self.assertTrue(any(uid in rules[name].get('uids', []) for name in pods['rules']))

    def test_the_daemon_image_has_what_the_daemon_set_runs(self):
        with open(os.path.join(SOURCE, 'deploy/containers/Containerfile.gssgated')) as f:
            containerfile = f.read()
        for path in ('/usr/sbin/gssgated', '/usr/bin/gssgate'):
            self.assertIn('COPY --from=build /staging' + path + ' ' + path, containerfile)
        self.assertIn('ENTRYPOINT ["/usr/sbin/gssgated"]', containerfile)
        self.assertIn('ENV KRB5RCACHEDIR=/var/cache/gssgate', containerfile)


if __name__ == '__main__':
    unittest.main(verbosity=2)
