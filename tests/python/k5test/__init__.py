"""A small k5test-compatible realm helper for running python-gssapi's own tests.

Debian packages python-gssapi's tests (gssapi/tests/test_high_level.py) but not the k5test module
they import, so gssgate carries this one: the subset of k5test's API that test_high_level.py uses
(KerberosTestCase, the skip decorators of k5test.unit, and a realm with kinit, addprinc and
extract_keytab), written for MIT krb5 on Debian. With GSSGATE_K5TEST_GSSGATED set it also runs a
gssgated for each realm, so the suite's GSSAPI calls go through gssgate's interposer module
(tests/python/README.md).
"""

from k5test.realm import K5Realm  # noqa: F401
from k5test.unit import KerberosTestCase  # noqa: F401
