"""The ContainerView + paged RetrievePropertiesEx helper, on a fake session.

Responses are built from real suds objects (``suds.sudsobject``), shaped as
vCenter's responses are parsed by suds.
"""

import datetime
import types

from suds.sax import text as sax_text
from suds import sudsobject
import testtools

from tests import threading_backend  # noqa: F401  (must precede oslo_vmware)
from vmware_backend import exceptions
from vmware_backend.vsphere import inventory

R = inventory.MoRef


def suds_obj(class_name, **fields):
    return sudsobject.Factory.object(class_name, fields)


def moref(type_, value):
    # As suds parses a ManagedObjectReference: a Property with a _type.
    ref = sudsobject.Property(sax_text.Text(value))
    ref._type = type_
    return ref


def content(ref, **props):
    prop_set = [suds_obj('DynamicProperty', name=sax_text.Text(name), val=val)
                for name, val in props.items()]
    return suds_obj('ObjectContent', obj=ref, propSet=prop_set)


def page(contents, token=None):
    fields = {'objects': contents}
    if token:
        fields['token'] = token
    return suds_obj('RetrieveResult', **fields)


def ds(n):
    return content(moref('Datastore', 'datastore-%d' % n),
                   name=sax_text.Text('ds%d' % n))


class FakeSession:
    """Records invoke() calls and answers them from a script."""

    def __init__(self, pages=(), page_size=100, fail=None):
        self.pages = list(pages)
        self.fail = dict(fail or {})
        self.calls = []
        self.options = {'vcenter_inventory_page_size': page_size,
                        'vcenter_read_transport': 'soap'}
        self.view = moref('ContainerView', 'session[1]view-1')
        self.service_content = types.SimpleNamespace(
            propertyCollector=moref('PropertyCollector', 'propertyCollector'),
            viewManager=moref('ViewManager', 'ViewManager'),
            rootFolder=moref('Folder', 'group-d1'))
        self.factory = types.SimpleNamespace(create=self._create)

    @staticmethod
    def _create(name):
        return types.SimpleNamespace(_type_name=name)

    def invoke(self, method, ref, target=None, **kwargs):
        self.calls.append((method, ref, kwargs))
        error = self.fail.get((method, self.methods().count(method)))
        if error is not None:
            raise error
        if method == 'CreateContainerView':
            return self.view
        if method in ('RetrievePropertiesEx',
                      'ContinueRetrievePropertiesEx'):
            return self.pages.pop(0)
        return None

    def methods(self):
        return [call[0] for call in self.calls]

    def call(self, method):
        matches = [c for c in self.calls if c[0] == method]
        assert len(matches) == 1, matches
        return matches[0]


def fault(name='ManagedObjectNotFound'):
    return exceptions.VCenterFault(fault=name, action='x', target='y',
                                   detail='z')


PATHS = {'Datastore': ['name', 'summary.capacity'],
         'HostSystem': ['name']}


class ReadContainerTest(testtools.TestCase):

    def test_pages_are_followed_with_their_tokens(self):
        session = FakeSession([page([ds(1), ds(2)], 't1'),
                               page([ds(3), ds(4)], 't2'),
                               page([ds(5)])], page_size=2)
        result = inventory.read_container(session, PATHS)
        self.assertEqual(['ds%d' % n for n in range(1, 6)],
                         [props['name'] for _ref, props in result])
        self.assertEqual(R('Datastore', 'datastore-3'), result[2][0])
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx', 'DestroyView'],
                         session.methods())
        tokens = [kw['token'] for m, _r, kw in session.calls
                  if m == 'ContinueRetrievePropertiesEx']
        self.assertEqual(['t1', 't2'], tokens)
        _m, ref, _kw = session.call('DestroyView')
        self.assertIs(session.view, ref)

    def test_view_and_filter_specs(self):
        session = FakeSession([page([ds(1)])], page_size=7)
        root = R('ClusterComputeResource', 'domain-c7')
        inventory.read_container(session, PATHS, root=root)
        _m, ref, kwargs = session.call('CreateContainerView')
        self.assertIs(session.service_content.viewManager, ref)
        self.assertEqual(('ClusterComputeResource', 'domain-c7'),
                         (kwargs['container']._type,
                          kwargs['container'].value))
        self.assertEqual(['Datastore', 'HostSystem'], kwargs['type'])
        self.assertTrue(kwargs['recursive'])

        _m, ref, kwargs = session.call('RetrievePropertiesEx')
        self.assertIs(session.service_content.propertyCollector, ref)
        self.assertEqual(7, kwargs['options'].maxObjects)
        (spec,) = kwargs['specSet']
        (obj_spec,) = spec.objectSet
        self.assertIs(session.view, obj_spec.obj)
        self.assertTrue(obj_spec.skip)
        (traversal,) = obj_spec.selectSet
        self.assertEqual('ns0:TraversalSpec', traversal._type_name)
        self.assertEqual(('ContainerView', 'view', False),
                         (traversal.type, traversal.path, traversal.skip))
        self.assertEqual(
            {'Datastore': (['name', 'summary.capacity'], False),
             'HostSystem': (['name'], False)},
            {p.type: (p.pathSet, p.all) for p in spec.propSet})

    def test_root_folder_is_the_default_root(self):
        session = FakeSession([page([])])
        inventory.read_container(session, PATHS, page_size=3)
        _m, _ref, kwargs = session.call('CreateContainerView')
        self.assertIs(session.service_content.rootFolder,
                      kwargs['container'])
        _m, _ref, kwargs = session.call('RetrievePropertiesEx')
        self.assertEqual(3, kwargs['options'].maxObjects)

    def test_empty_result(self):
        # The session answers an empty RetrievePropertiesEx with None.
        session = FakeSession([None])
        self.assertEqual([], inventory.read_container(session, PATHS))
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'DestroyView'], session.methods())

    def test_reads_name_the_session_bound_calls(self):
        session = FakeSession([page([ds(1)], 't1'), page([ds(2)])])
        inventory.read_container(session, PATHS)
        bound = {m: kw.get('session_bound') for m, _r, kw in session.calls}
        self.assertEqual({'CreateContainerView': None,
                          'RetrievePropertiesEx': True,
                          'ContinueRetrievePropertiesEx': True,
                          'DestroyView': None}, bound)

    def test_session_renewed_mid_read_restarts_with_a_new_view(self):
        renewed = exceptions.VCenterSessionRenewed(url='u', method='m',
                                                   reason='r')
        session = FakeSession(
            [page([ds(1), ds(2)], 't1'),
             page([ds(1), ds(2)], 't9'), page([ds(3)])],
            page_size=2, fail={('ContinueRetrievePropertiesEx', 1): renewed})
        result = inventory.read_container(session, PATHS)
        self.assertEqual(['ds1', 'ds2', 'ds3'],
                         [props['name'] for _ref, props in result])
        # Neither the old token nor the old view is touched again.
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx',
                          'CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx', 'DestroyView'],
                         session.methods())

    def test_lost_page_restarts_and_cancels_the_old_token(self):
        lost = exceptions.VCenterConnectionError(url='u', reason='reset')
        session = FakeSession(
            [page([ds(1)], 't1'), page([ds(1)], 't2'), page([ds(2)])],
            fail={('ContinueRetrievePropertiesEx', 1): lost})
        result = inventory.read_container(session, PATHS)
        self.assertEqual(['ds1', 'ds2'],
                         [props['name'] for _ref, props in result])
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx',
                          'CancelRetrievePropertiesEx', 'DestroyView',
                          'CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx', 'DestroyView'],
                         session.methods())

    def test_restarts_up_to_the_retry_count_then_names_the_cause(self):
        renewed = exceptions.VCenterSessionRenewed(
            url='https://vc/sdk', method='ContinueRetrievePropertiesEx',
            reason='r')
        session = FakeSession(
            [page([ds(1)], 't1'), page([ds(1)], 't2'), page([ds(1)], 't3')],
            fail={('ContinueRetrievePropertiesEx', 1): renewed,
                  ('ContinueRetrievePropertiesEx', 2): renewed,
                  ('ContinueRetrievePropertiesEx', 3): renewed})
        session.options['vcenter_api_retry_count'] = 2
        objects = inventory.iter_container(session, PATHS)
        self.assertEqual('ds1', next(objects)[1]['name'])
        err = self.assertRaises(exceptions.VCenterConnectionError, list,
                                objects)
        self.assertNotIsInstance(err, exceptions.VCenterSessionRenewed)
        self.assertIn('https://vc/sdk: the session keeps expiring: it '
                      'expired 3 times in one read of objects below '
                      'Folder:group-d1 (NotAuthenticated on '
                      'ContinueRetrievePropertiesEx', str(err))
        self.assertIn('(now 2)', str(err))
        self.assertEqual(3, session.methods().count('CreateContainerView'))

    def test_restarts_after_expiries_within_the_retry_count(self):
        renewed = exceptions.VCenterSessionRenewed(url='u', method='m',
                                                   reason='r')
        session = FakeSession(
            [page([ds(1)], 't1'), page([ds(1)], 't2'), page([ds(1)], 't3'),
             page([ds(2)])],
            fail={('ContinueRetrievePropertiesEx', 1): renewed,
                  ('ContinueRetrievePropertiesEx', 2): renewed})
        session.options['vcenter_api_retry_count'] = 2
        self.assertEqual(['ds1', 'ds2'], [
            props['name'] for _r, props in inventory.read_container(
                session, PATHS)])

    def test_error_mid_read_cancels_and_destroys(self):
        session = FakeSession(
            [page([ds(1)], 't1'), page([ds(2)], 't2')],
            fail={('ContinueRetrievePropertiesEx', 2): fault(
                'InvalidArgument')})
        self.assertRaises(exceptions.VCenterFault,
                          inventory.read_container, session, PATHS)
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx',
                          'ContinueRetrievePropertiesEx',
                          'CancelRetrievePropertiesEx', 'DestroyView'],
                         session.methods())
        _m, _ref, kwargs = session.call('CancelRetrievePropertiesEx')
        self.assertEqual('t2', kwargs['token'])

    def test_error_in_first_page_destroys_without_cancel(self):
        session = FakeSession(fail={('RetrievePropertiesEx', 1): fault(
            'InvalidArgument')})
        self.assertRaises(exceptions.VCenterFault,
                          inventory.read_container, session, PATHS)
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'DestroyView'], session.methods())

    def test_view_gone_with_its_session_starts_the_read_again(self):
        # ManagedObjectNotFound for the view: its session ended after
        # CreateContainerView; the second read gets through.
        session = FakeSession(
            [page([ds(1)])],
            fail={('RetrievePropertiesEx', 1): fault()})
        self.assertEqual(['ds1'], [props['name'] for _r, props in
                                   inventory.read_container(session,
                                                            PATHS)])
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'DestroyView', 'CreateContainerView',
                          'RetrievePropertiesEx', 'DestroyView'],
                         session.methods())

    def test_view_gone_every_time_is_an_error(self):
        # the first read and vcenter_api_retry_count (1 here) restarts
        session = FakeSession(
            fail={('RetrievePropertiesEx', 1): fault(),
                  ('RetrievePropertiesEx', 2): fault()})
        session.options['vcenter_api_retry_count'] = 1
        err = self.assertRaises(exceptions.VCenterFault,
                                inventory.read_container, session, PATHS)
        self.assertEqual('ManagedObjectNotFound', err.fault)

    def test_consumer_error_mid_page_cancels(self):
        session = FakeSession([page([ds(1), ds(2)], 't1'), page([ds(3)])])
        objects = inventory.iter_container(session, PATHS)
        next(objects)
        self.assertRaises(RuntimeError, objects.throw,
                          RuntimeError('consumer failed'))
        self.assertEqual('CancelRetrievePropertiesEx',
                         session.methods()[-2])
        self.assertEqual('DestroyView', session.methods()[-1])

    def test_stopping_early_cancels_and_destroys(self):
        session = FakeSession([page([ds(1), ds(2)], 't1'), page([ds(3)])])
        objects = inventory.iter_container(session, PATHS)
        next(objects)
        objects.close()
        self.assertEqual(['CreateContainerView', 'RetrievePropertiesEx',
                          'CancelRetrievePropertiesEx', 'DestroyView'],
                         session.methods())

    def test_no_cancel_after_the_last_page(self):
        session = FakeSession([page([ds(1)], 't1'), page([ds(2)])])
        objects = inventory.iter_container(session, PATHS)
        next(objects)
        next(objects)   # last page, no token
        objects.close()
        self.assertNotIn('CancelRetrievePropertiesEx', session.methods())
        self.assertEqual('DestroyView', session.methods()[-1])

    def test_cleanup_failure_does_not_hide_the_error(self):
        original = fault('InvalidArgument')
        session = FakeSession(
            [page([ds(1)], 't1')],
            fail={('ContinueRetrievePropertiesEx', 1): original,
                  ('CancelRetrievePropertiesEx', 1): fault('InvalidToken'),
                  ('DestroyView', 1): fault()})
        err = self.assertRaises(exceptions.VCenterFault,
                                inventory.read_container, session, PATHS)
        self.assertIs(original, err)
        self.assertEqual('DestroyView', session.methods()[-1])

    def test_destroy_failure_after_success_keeps_the_result(self):
        session = FakeSession([page([ds(1)])],
                              fail={('DestroyView', 1): fault()})
        result = inventory.read_container(session, PATHS)
        self.assertEqual(1, len(result))

    def test_create_view_failure(self):
        session = FakeSession(fail={('CreateContainerView', 1): fault()})
        self.assertRaises(exceptions.VCenterFault,
                          inventory.read_container, session, PATHS)
        self.assertEqual(['CreateContainerView'], session.methods())


class PlainValuesTest(testtools.TestCase):

    def test_objects_become_plain(self):
        when = datetime.datetime(2024, 1, 2, 3, 4, 5)
        mounts = suds_obj('ArrayOfDatastoreHostMount', DatastoreHostMount=[
            suds_obj('DatastoreHostMount', key=moref('HostSystem', 'host-1'),
                     mountInfo=suds_obj('HostMountInfo', mounted=True,
                                        accessible=False,
                                        path=sax_text.Text('/vmfs/a')))])
        hosts = suds_obj('ArrayOfManagedObjectReference',
                         ManagedObjectReference=[moref('HostSystem', 'h-1'),
                                                 moref('HostSystem', 'h-2')])
        ref = moref('Datastore', 'datastore-9')
        session = FakeSession([page([content(
            ref, name=sax_text.Text('ds9'), host=mounts, hosts=hosts,
            empty=suds_obj('ArrayOfManagedObjectReference'),
            parent=moref('Folder', 'group-s4'),
            **{'summary.capacity': 1024, 'summary.accessible': True,
               'bootTime': when})])])
        ((got_ref, props),) = inventory.read_container(session, PATHS)
        self.assertEqual(R('Datastore', 'datastore-9'), got_ref)
        self.assertEqual({
            'name': 'ds9',
            'host': [{'key': R('HostSystem', 'host-1'),
                      'mountInfo': {'mounted': True, 'accessible': False,
                                    'path': '/vmfs/a'}}],
            'hosts': [R('HostSystem', 'h-1'), R('HostSystem', 'h-2')],
            'empty': [],
            'parent': R('Folder', 'group-s4'),
            'summary.capacity': 1024,
            'summary.accessible': True,
            'bootTime': when,
        }, props)
        self.assertEqual({str}, {type(key) for key in props})
        self.assertIs(str, type(props['name']))
        self.assertIs(str, type(props['host'][0]['mountInfo']['path']))
        self.assertIs(inventory.MoRef, type(props['parent']))
        self.assertIs(str, type(props['parent'].value))

    def test_moref_round_trip(self):
        ref = R('HostSystem', 'host-7')
        suds_ref = inventory.to_suds(ref)
        self.assertEqual(('HostSystem', 'host-7'),
                         (suds_ref._type, suds_ref.value))
        self.assertEqual(ref, inventory.from_suds(suds_ref))
        self.assertIs(suds_ref, inventory.to_suds(suds_ref))
        self.assertIs(ref, inventory.from_suds(ref))


class GetPropertiesTest(testtools.TestCase):

    def test_one_call_for_one_object(self):
        ref = moref('HostSystem', 'host-3')
        session = FakeSession([page([content(
            ref, name=sax_text.Text('h3'),
            **{'runtime.inMaintenanceMode': False})])])
        props = inventory.get_properties(
            session, R('HostSystem', 'host-3'),
            ['name', 'runtime.inMaintenanceMode'])
        self.assertEqual({'name': 'h3', 'runtime.inMaintenanceMode': False},
                         props)
        self.assertEqual(['RetrievePropertiesEx'], session.methods())
        _m, _ref, kwargs = session.call('RetrievePropertiesEx')
        (spec,) = kwargs['specSet']
        (obj_spec,) = spec.objectSet
        self.assertEqual(('HostSystem', 'host-3'),
                         (obj_spec.obj._type, obj_spec.obj.value))
        self.assertFalse(obj_spec.skip)
        (prop_spec,) = spec.propSet
        self.assertEqual(('HostSystem', ['name', 'runtime.inMaintenanceMode']),
                         (prop_spec.type, prop_spec.pathSet))

    def test_nothing_set(self):
        session = FakeSession([[]])
        self.assertEqual({}, inventory.get_properties(
            session, R('HostSystem', 'host-3'), ['name']))
