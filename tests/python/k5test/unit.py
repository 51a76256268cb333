"""k5test.unit: the test case base class and skip decorators test_high_level.py uses."""

import functools
import importlib
import os
import subprocess
import unittest

from k5test import realm as _realm


class KerberosTestCase(unittest.TestCase):
    """A test case class with one fresh realm (cls.realm) for all its tests."""

    @classmethod
    def setUpClass(cls):
        cls.realm = _realm.K5Realm()

    @classmethod
    def tearDownClass(cls):
        cls.realm.stop()
        del cls.realm


def _skip_unless(reason_if_skipped):
    """Decorator factory: reason_if_skipped(self) returns a skip reason or None."""
    def decorate(func):
        @functools.wraps(func)
        def wrapper(self, *args, **kwargs):
            reason = reason_if_skipped(self)
            if reason:
                self.skipTest(reason)
            return func(self, *args, **kwargs)
        return wrapper
    return decorate


def _has_extension(name):
    try:
        importlib.import_module('gssapi.raw.ext_' + name)
        return True
    except ImportError:
        return False


def gssapi_extension_test(extension_name, extension_text):
    return _skip_unless(
        lambda self: None if _has_extension(extension_name) else
        'the %s GSSAPI extension is not available' % extension_text)


def _krb5_version():
    out = subprocess.run(['krb5-config', '--version'], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()[-1].split('-')[0].split('.') if p.isdigit()]


def krb_minversion_test(target_version, problem, provider=None):
    target = [int(p) for p in target_version.split('.')]

    def reason(self):
        if provider and self.realm.provider.lower() != provider.lower():
            return None
        if _krb5_version() < target:
            return 'krb5 older than %s has problems with %s' % (target_version, problem)
        return None
    return _skip_unless(reason)


def _plugin_dir():
    out = subprocess.run(['krb5-config', '--libs'], capture_output=True, text=True).stdout
    for part in out.split():
        if part.startswith('-L'):
            candidate = os.path.join(part[2:], 'krb5', 'plugins')
            if os.path.isdir(candidate):
                return candidate
    for candidate in ('/usr/lib/x86_64-linux-gnu/krb5/plugins', '/usr/lib/krb5/plugins'):
        if os.path.isdir(candidate):
            return candidate
    return None


def krb_plugin_test(plugin_type, plugin_name):
    def reason(self):
        base = _plugin_dir()
        if base and os.path.exists(os.path.join(base, plugin_type, plugin_name + '.so')):
            return None
        return 'the krb5 %s plugin %s is not installed' % (plugin_type, plugin_name)
    return _skip_unless(reason)


def krb_provider_test(providers, problem):
    wanted = [p.lower() for p in providers]
    return _skip_unless(
        lambda self: None if self.realm.provider.lower() in wanted else
        'krb5 provider %s has problems with %s' % (self.realm.provider, problem))
