"""Configuration: options, validation and the committed sample."""

import os
import tempfile

import fixtures
from oslo_config import cfg
from oslo_config import generator
import testtools

from vmware_backend import conf
from vmware_backend import exceptions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _conf(text):
    fd, path = tempfile.mkstemp(suffix='.conf')
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    config = cfg.ConfigOpts()
    conf.register_opts(config)
    config([], default_config_files=[path])
    os.unlink(path)
    return config


class ReadOptionsTest(testtools.TestCase):

    def test_defaults_are_safe(self):
        values = conf.read_options(_conf(''))
        self.assertFalse(values['vcenter_insecure'])
        self.assertEqual('https', values['vcenter_scheme'])
        self.assertGreater(values['vcenter_http_timeout'], 0)

    def test_values_from_ini(self):
        values = conf.read_options(_conf(
            '[vmware]\nvcenter_host = vc.example.org\nvcenter_username = u\n'
            'vcenter_password = p\nvcenter_cluster_names = c1, c2\n'))
        self.assertEqual('vc.example.org', values['vcenter_host'])
        self.assertEqual(['c1', 'c2'], values['vcenter_cluster_names'])

    def test_bad_port_names_option(self):
        err = self.assertRaises(
            exceptions.InvalidConfiguration, conf.read_options,
            _conf('[vmware]\nvcenter_port = abc\n'))
        self.assertIn('[vmware] vcenter_port', str(err))

    def test_bad_choice_names_option_and_value(self):
        err = self.assertRaises(
            exceptions.InvalidConfiguration, conf.read_options,
            _conf('[vmware]\nvcenter_default_disk_type = sparse\n'))
        self.assertIn('vcenter_default_disk_type', str(err))
        self.assertIn('sparse', str(err))

    def test_password_required_with_host(self):
        err = self.assertRaises(
            exceptions.InvalidConfiguration, conf.read_options,
            _conf('[vmware]\nvcenter_host = vc\nvcenter_username = u\n'))
        self.assertIn('vcenter_password', str(err))

    def test_bad_regex(self):
        err = self.assertRaises(
            exceptions.InvalidConfiguration, conf.read_options,
            _conf('[vmware]\nvcenter_datastore_regex = ([a\n'))
        self.assertIn('vcenter_datastore_regex', str(err))

    def test_bad_folder(self):
        err = self.assertRaises(
            exceptions.InvalidConfiguration, conf.read_options,
            _conf('[vmware]\nvcenter_volume_folder = a//b\n'))
        self.assertIn("'a//b'", str(err))

    def test_option_defaults_rejects_unknown(self):
        self.assertRaises(KeyError, conf.option_defaults, no_such=1)
        self.assertEqual(5, conf.option_defaults(
            vcenter_port=5)['vcenter_port'])

    def test_password_is_secret(self):
        opt = [o for o in conf.ALL_OPTS if o.name == 'vcenter_password'][0]
        self.assertTrue(opt.secret)


class SampleConfigTest(testtools.TestCase):

    def test_committed_sample_is_current(self):
        """Fails when options changed without running tox -e genconfig."""
        out = self.useFixture(_TempFile()).path
        config = cfg.ConfigOpts()
        generator.register_cli_opts(config)
        config(['--namespace', 'vmware_backend', '--wrap-width', '79',
                '--output-file', out])
        generator.generate(config)
        sample = os.path.join(ROOT, 'etc', 'vmware_backend',
                              'vmware_backend.conf.sample')
        with open(out) as fresh, open(sample) as committed:
            self.assertEqual(fresh.read(), committed.read(),
                             'run "tox -e genconfig" and commit the sample')


class _TempFile(fixtures.Fixture):

    def _setUp(self):
        fd, self.path = tempfile.mkstemp(suffix='.sample')
        os.close(fd)
        self.addCleanup(os.unlink, self.path)
