"""The paged ContainerView read against the simulator."""

import collections

import fixtures
import testtools

from tests.functional import base
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory
from vmware_backend.vsphere import session as vc_session

GiB = 1024 ** 3
R = inventory.MoRef

# 1 datacenter, 1 cluster of 4 hosts, 1 standalone host, 3 datastores.
FLAGS = {'hosts': 4, 'datastores': 3, 'vms': 2}
HOSTS = ['DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2', 'DC0_C0_H3', 'DC0_H0']
DATASTORES = ['LocalDS_0', 'LocalDS_1', 'LocalDS_2']
PATHS = {'HostSystem': ['name', 'parent'],
         'Datastore': ['name', 'summary.capacity', 'host']}


class ViewSpy:
    """A session that remembers the ContainerViews created through it."""

    def __init__(self, session, during_read=None):
        self._session = session
        self._during_read = during_read
        self.views = []

    def __getattr__(self, name):
        return getattr(self._session, name)

    def invoke(self, method, moref, target=None, **kwargs):
        result = self._session.invoke(method, moref, target=target, **kwargs)
        if method == 'CreateContainerView':
            self.views.append(inventory.from_suds(result))
        if method == 'RetrievePropertiesEx' and self._during_read:
            self._during_read()
        return result


class InventoryTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(300, gentle=True))
        fixture = self.useFixture(base.VcsimFixture(FLAGS))
        # The SOAP reader (the VI/JSON one: test_vijson_reads).
        self.session = vc_session.VCenterSession(
            fixture.options(vcenter_read_transport='soap'))
        self.addCleanup(self.session.close)
        self.content = self.session.service_content  # logs in

    def counted(self, func, *args, **kwargs):
        before = self.session.counts_snapshot()
        result = func(*args, **kwargs)
        return result, self.session.counts_snapshot() - before

    def view_list(self):
        props = inventory.get_properties(
            self.session, inventory.from_suds(self.content.viewManager),
            ['viewList'])
        # suds parses an empty array property as ''.
        return props.get('viewList') or []

    def test_reads_in_pages_of_the_page_size(self):
        objects, calls = self.counted(inventory.read_container,
                                      self.session, PATHS, page_size=3)
        names = sorted(props['name'] for _ref, props in objects)
        self.assertEqual(sorted(HOSTS + DATASTORES), names)
        self.assertEqual(len(objects), len({ref for ref, _p in objects}))
        # 8 objects in pages of 3: one RetrievePropertiesEx, two continues.
        self.assertEqual(collections.Counter({
            'CreateContainerView': 1, 'RetrievePropertiesEx': 1,
            'ContinueRetrievePropertiesEx': 2, 'DestroyView': 1}), calls)

    def test_one_page_when_everything_fits(self):
        objects, calls = self.counted(inventory.read_container,
                                      self.session, PATHS, page_size=1000)
        self.assertEqual(8, len(objects))
        self.assertEqual(0, calls['ContinueRetrievePropertiesEx'])
        self.assertEqual(1, calls['RetrievePropertiesEx'])

    def test_default_page_size_is_the_option(self):
        # A new session with its own options; the shared one is untouched.
        session = vc_session.VCenterSession(
            dict(self.session.options, vcenter_inventory_page_size=2))
        self.addCleanup(session.close)
        session.service_content
        before = session.counts_snapshot()
        inventory.read_container(session, PATHS)
        calls = session.counts_snapshot() - before
        self.assertEqual(3, calls['ContinueRetrievePropertiesEx'])

    def test_plain_values(self):
        objects = dict(inventory.read_container(self.session, PATHS))
        hosts = {props['name']: ref for ref, props in objects.items()
                 if ref.type == 'HostSystem'}
        datastores = [props for ref, props in objects.items()
                      if ref.type == 'Datastore']
        self.assertEqual(3, len(datastores))
        for props in datastores:
            self.assertIs(str, type(props['name']))
            self.assertEqual(1024 * GiB, props['summary.capacity'])
            self.assertEqual(set(HOSTS),
                             {objects[m['key']]['name']
                              for m in props['host']})
            for mount in props['host']:
                self.assertIs(inventory.MoRef, type(mount['key']))
                self.assertIs(True, mount['mountInfo']['mounted'])
                self.assertIs(True, mount['mountInfo']['accessible'])
        parent = objects[hosts['DC0_C0_H1']]['parent']
        self.assertEqual('ClusterComputeResource', parent.type)
        self.assertEqual('ComputeResource',
                         objects[hosts['DC0_H0']]['parent'].type)

    def test_root_limits_the_read(self):
        (cluster, props), = inventory.read_container(
            self.session, {'ClusterComputeResource': ['name']})
        self.assertEqual('DC0_C0', props['name'])
        objects = inventory.read_container(
            self.session, {'HostSystem': ['name']}, root=cluster)
        self.assertEqual(HOSTS[:4],
                         sorted(props['name'] for _ref, props in objects))

    def test_stopping_early_cancels_the_pending_page(self):
        spy = ViewSpy(self.session)
        before = self.session.counts_snapshot()
        objects = inventory.iter_container(spy, PATHS, page_size=2)
        next(objects)
        objects.close()
        calls = self.session.counts_snapshot() - before
        self.assertEqual(collections.Counter({
            'CreateContainerView': 1, 'RetrievePropertiesEx': 1,
            'CancelRetrievePropertiesEx': 1, 'DestroyView': 1}), calls)
        self.assertViewsGone(spy.views)

    def assertViewsGone(self, views):
        self.assertEqual([], self.view_list())
        for view in views:
            err = self.assertRaises(exceptions.VCenterFault,
                                    inventory.get_properties,
                                    self.session, view, ['view'])
            self.assertEqual('ManagedObjectNotFound', err.fault)

    def test_every_view_is_destroyed(self):
        spy = ViewSpy(self.session)
        inventory.read_container(spy, PATHS, page_size=2)
        inventory.read_container(spy, {'Datastore': ['name']})
        self.assertEqual(2, len(spy.views))
        self.assertViewsGone(spy.views)

    def test_view_list_shows_the_view_only_while_reading(self):
        seen_during_read = []
        spy = ViewSpy(self.session,
                      during_read=lambda: seen_during_read.append(
                          self.view_list()))
        inventory.read_container(spy, PATHS, page_size=2)
        # The project's vcsim maintains viewList (patch 0005), so seeing the
        # view during the read proves the empty list afterwards means
        # something.
        self.assertEqual([spy.views], seen_during_read)
        self.assertEqual([], self.view_list())

    def test_view_is_destroyed_after_a_failed_read(self):
        spy = ViewSpy(self.session)
        self.assertRaises(exceptions.VCenterFault, inventory.read_container,
                          spy, {'Datastore': ['no.such.property']})
        self.assertEqual(1, len(spy.views))
        self.assertViewsGone(spy.views)

    def test_get_properties(self):
        objects = inventory.read_container(self.session,
                                           {'HostSystem': ['name']})
        ref = [r for r, props in objects if props['name'] == 'DC0_C0_H2'][0]
        props, calls = self.counted(
            inventory.get_properties, self.session, ref,
            ['name', 'runtime.connectionState', 'runtime.inMaintenanceMode'])
        self.assertEqual({'name': 'DC0_C0_H2',
                          'runtime.connectionState': 'connected',
                          'runtime.inMaintenanceMode': False}, props)
        self.assertEqual(collections.Counter({'RetrievePropertiesEx': 1}),
                         calls)

    def test_get_properties_of_a_missing_object(self):
        err = self.assertRaises(exceptions.VCenterFault,
                                inventory.get_properties, self.session,
                                R('HostSystem', 'host-404'), ['name'])
        self.assertEqual('ManagedObjectNotFound', err.fault)
