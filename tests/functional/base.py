"""Shared set-up of the functional tests: a real vcsim spoken to over SOAP."""

import atexit
import logging
import threading
import uuid

import fixtures
import testtools

from tests import threading_backend  # noqa: F401  (must precede oslo_vmware)
from vmware_backend import conf
from vmware_backend.testbed import vcsim
from vmware_backend.volume import driver as vmware_driver
from vmware_backend.volume import plain_objects
from vmware_backend.vsphere import session as vc_session


class VcsimFixture(fixtures.Fixture):
    """Builds (once, cached) and runs a simulator for the fixture's life.

    :param flags: flags of the simulator main, e.g. ``{'hosts': 4}``.
    """

    def __init__(self, flags=None):
        super().__init__()
        self.flags = flags

    def _setUp(self):
        # Logs are kept and shown with a failure only.
        self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        self.server = vcsim.VcsimServer(self.flags)
        self.server.start()
        self.addCleanup(self.server.stop)

    def options(self, **overrides):
        return conf.option_defaults(**self.server.options(**overrides))


_shared = {}
_shared_lock = threading.Lock()


def shared_vcsim():
    """One default simulator per test process, stopped at exit.

    Tests using it must only touch objects they created themselves (unique
    volume ids), so they can share it.
    """
    with _shared_lock:
        server = _shared.get('server')
        if server is None or not server.alive():
            server = vcsim.VcsimServer().start()
            atexit.register(server.stop)
            _shared['server'] = server
        return server


def shared_session(server, options):
    """One session per test process with the shared simulator."""
    with _shared_lock:
        session = _shared.get('session')
        if session is None or _shared.get('session_server') is not server:
            session = vc_session.VCenterSession(options)
            _shared['session'] = session
            _shared['session_server'] = server
        return session


class FunctionalTestCase(testtools.TestCase):
    """A test talking to a simulator through a session.

    The process-wide simulator by default; one of the test's own, started
    with these flags, when ``VCSIM_FLAGS`` is set.
    """

    VCSIM_FLAGS = None

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        # Logs are kept and shown with a failure only.
        self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        if self.VCSIM_FLAGS is None:
            self.vcsim = shared_vcsim()
            self.options = conf.option_defaults(**self.vcsim.options())
            # Building a suds client parses the WSDL (over a second), so
            # tests on the shared simulator share one session too.
            self.session = shared_session(self.vcsim, self.options)
        else:
            self.vcsim = self.useFixture(VcsimFixture(self.VCSIM_FLAGS)).server
            self.options = conf.option_defaults(**self.vcsim.options())
            self.session = vc_session.VCenterSession(self.options)
            self.addCleanup(self.session.close)

    def driver_and_volume(self, size=1):
        """A driver on the test's session and a volume it created.

        The volume (``size`` GiB) is deleted at clean-up.
        """
        driver = vmware_driver.VMwareVolumeDriver(self.options,
                                                  session=self.session)
        volume = plain_objects.volume(size)
        driver.create_volume(volume)
        self.addCleanup(driver.delete_volume, volume)
        return driver, volume


def own_simulator(test, timeout=600):
    """A simulator of ``test``'s own and a session with it.

    Both are stopped at clean-up; a ``timeout`` s fixture; sets
    ``test.vcsim`` (the fixture) and ``test.session``.
    """
    test.useFixture(fixtures.Timeout(timeout, gentle=True))
    test.vcsim = test.useFixture(VcsimFixture())
    test.session = vc_session.VCenterSession(test.vcsim.options())
    test.addCleanup(test.session.close)


def new_id():
    """A fresh volume/snapshot id."""
    return str(uuid.uuid4())
