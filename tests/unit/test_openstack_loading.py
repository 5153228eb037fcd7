"""Loading Cinder or Nova for the integration tests: skip or fail.

Where tox installs Cinder (or Nova), an ImportError must fail the run, not
turn the integration tests into silent skips.
"""

import sys
import unittest
from unittest import mock

import fixtures
import testtools

from tests import openstack


class LoadTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # "from cinder import ..." / "from nova import ..." raise ImportError
        # whether or not the project is installed here.
        self.useFixture(fixtures.MockPatchObject(
            openstack, '_loaded', return_value=[]))
        patcher = mock.patch.dict(sys.modules, {'cinder': None,
                                                'nova': None})
        patcher.start()
        self.addCleanup(patcher.stop)

    def env(self, value):
        self.useFixture(fixtures.EnvironmentVariable(
            openstack.REQUIRE_ENV, value))

    def test_not_required_skips(self):
        self.env(None)
        err = self.assertRaises(unittest.SkipTest, openstack.load_cinder)
        self.assertIn('use tox -e cinder', str(err))
        err = self.assertRaises(unittest.SkipTest, openstack.load_nova)
        self.assertIn('use tox -e nova-interop', str(err))

    def test_required_cinder_fails(self):
        self.env('cinder')
        err = self.assertRaises(ImportError, openstack.load_cinder)
        self.assertIn('cinder is required here '
                      '(VMWARE_BACKEND_REQUIRE_OPENSTACK=cinder)', str(err))
        # Nova is not required in that environment.
        self.assertRaises(unittest.SkipTest, openstack.load_nova)

    def test_required_nova_fails(self):
        self.env('cinder, nova')
        self.assertRaises(ImportError, openstack.load_nova)
        self.assertRaises(ImportError, openstack.load_cinder)
