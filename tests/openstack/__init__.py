"""Tests running the backend inside OpenStack's own code (Cinder, Nova).

Cinder and Nova cannot share one Python process: both register options on
oslo.config's global ``CONF`` under the same names with different
definitions (``[DEFAULT] default_availability_zone`` raises
``DuplicateOptError``), and they start differently: cinder-volume
monkey-patches eventlet (``cinder/cmd/volume.py`` line 20), nova-compute runs
on native threads and forbids later eventlet imports
(``nova/cmd/compute.py`` line 19).

So each test module loads one of them, first thing, with :func:`load_cinder`
or :func:`load_nova`. These raise ``unittest.SkipTest`` (the whole module is
reported skipped) when the project is not installed or the other one is
already loaded in the process, except where the environment requires the
project: ``VMWARE_BACKEND_REQUIRE_OPENSTACK=cinder`` (or ``nova``, or
``cinder,nova``), set by the tox environments that install it, turns an
``ImportError`` into a failure. Run the modules in separate processes::

    tox -e cinder         # tests.openstack.test_cinder_driver
    tox -e nova-interop   # tests.openstack.test_nova_interop

This package imports neither project itself.
"""

import os
import sys
import unittest

REQUIRE_ENV = 'VMWARE_BACKEND_REQUIRE_OPENSTACK'


def required(project):
    """Whether the environment says ``project`` must be importable."""
    wanted = os.environ.get(REQUIRE_ENV, '')
    return project in {p.strip() for p in wanted.split(',')}


def _missing(project, err, env):
    if required(project):
        raise ImportError('%s is required here (%s=%s) but cannot be '
                          'imported: %s' % (project, REQUIRE_ENV,
                                            os.environ.get(REQUIRE_ENV), err))
    raise unittest.SkipTest('%s is not installed (%s); use tox -e %s'
                            % (project.capitalize(), err, env))


def _loaded(*prefixes):
    return sorted(name for name in sys.modules
                  if any(name == p or name.startswith(p + '.')
                         for p in prefixes))


def load_cinder():
    """Prepare the process as cinder-volume does, or skip the module.

    Applies Cinder's monkey patching (eventlet unless
    ``OS_CINDER_DISABLE_EVENTLET_PATCHING`` says otherwise, or native
    threads when the process already chose them) and registers Cinder's
    versioned objects.
    """
    clash = _loaded('nova.conf', 'nova.objects')
    if clash:
        raise unittest.SkipTest(
            'Nova is loaded in this process (%s); Cinder and Nova register '
            'clashing options, run this module alone (tox -e cinder)'
            % ', '.join(clash[:3]))
    try:
        from cinder import monkey_patch
    except ImportError as err:
        _missing('cinder', err, 'cinder')
    from oslo_service import backend as service_backend
    if service_backend.get_backend_type() == \
            service_backend.BackendType.THREADING:
        # Something chose native threads first; Cinder supports that mode.
        monkey_patch.patch(backend='threading')
    else:
        monkey_patch.patch()
    from cinder import objects
    objects.register_all()


def load_nova():
    """Prepare the process as nova-compute does, or skip the module.

    nova-compute calls ``monkey_patch.patch(backend='threading')`` before
    anything else, which also makes later ``import eventlet`` fail. When
    eventlet was imported earlier in this process (not patched), native
    threads are selected without that import guard.
    """
    clash = _loaded('cinder.common', 'cinder.db', 'cinder.objects',
                    'cinder.volume')
    if clash:
        raise unittest.SkipTest(
            'Cinder is loaded in this process (%s); Cinder and Nova register '
            'clashing options, run this module alone (tox -e nova-interop)'
            % ', '.join(clash[:3]))
    try:
        from nova import monkey_patch
    except ImportError as err:
        _missing('nova', err, 'nova-interop')
    if 'eventlet' not in sys.modules:
        monkey_patch.patch(backend='threading')
    else:
        from eventlet import patcher
        if patcher.is_monkey_patched('thread'):
            raise unittest.SkipTest(
                'eventlet monkey patching is active in this process; '
                'nova-compute runs on native threads (tox -e nova-interop)')
        from vmware_backend import utils
        utils.use_threading_backend()
    from nova import objects
    objects.register_all()
