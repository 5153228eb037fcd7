"""Memoised schema look-ups (vsphere/schemalookup.py) on real vSphere types.

Two suds clients of the types-only WSDL of :mod:`tests.unit.wsdl_factory`:
one registered (as the driver's finished descriptions are), one not (as
another suds user's in the same process).
"""

import shutil
import tempfile
from unittest import mock

from suds import client as suds_client
import testtools

from tests.unit import wsdl_factory
from vmware_backend.vsphere import schemalookup
from vmware_backend.vsphere import wsdlcache  # noqa: F401  (installs)

NS = 'urn:vim25'
TYPES = ('VirtualMachineConfigInfo', 'ObjectContent', 'VirtualDisk',
         'RetrieveResult', 'ManagedObjectReference', 'OptionValue')


def new_client():
    directory = tempfile.mkdtemp(prefix='schemalookup-')
    try:
        return suds_client.Client(
            'file://' + wsdl_factory.write_types_wsdl(directory))
    finally:
        shutil.rmtree(directory, True)


class RegisteredTestCase(testtools.TestCase):
    """A client whose description is registered, and a plain one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registered = new_client()
        schemalookup.register(schemalookup.schemas_of(cls.registered.wsdl))
        cls.plain = new_client()


class SchemaLookupTest(RegisteredTestCase):

    def type_of(self, client, name):
        return client.wsdl.schema.types[(name, NS)]

    def test_installed_on_suds(self):
        from suds.xsd import sxbase
        self.assertIs(schemalookup.get_child, sxbase.SchemaObject.get_child)
        self.assertIs(schemalookup.attributes,
                      sxbase.SchemaObject.attributes)

    def test_same_answers_as_suds_and_memoised(self):
        for name in TYPES:
            schema_type = self.type_of(self.registered, name).resolve()
            children = [c.name for c, _a in
                        schema_type.children()] + ['noSuchField']
            for _round in range(2):
                for child in children:
                    got = schema_type.get_child(child)
                    want = schemalookup._get_child(schema_type, child)
                    self.assertIs(want[0], got[0], (name, child))
                    self.assertEqual(want[1], got[1], (name, child))
                got = schema_type.attributes()
                want = schemalookup._attributes(schema_type)
                self.assertEqual([(a, list(anc)) for a, anc in want], got)
                got = schema_type.get_attribute('type')
                want = schemalookup._get_attribute(schema_type, 'type')
                self.assertIs(want[0], got[0])
            memo = schema_type.__dict__[schemalookup._CACHE]
            self.assertIn(('child', 'noSuchField'), memo)
        # The large type really has many fields (the point of the memo).
        config = self.type_of(self.registered,
                              'VirtualMachineConfigInfo').resolve()
        self.assertGreater(len(config.children()), 40)

    def test_other_descriptions_are_not_memoised(self):
        schema_type = self.type_of(self.plain, 'VirtualDisk').resolve()
        child, _ancestry = schema_type.get_child('capacityInKB')
        self.assertEqual('capacityInKB', child.name)
        schema_type.attributes()
        self.assertNotIn(schemalookup._CACHE, schema_type.__dict__)

    def test_callers_get_lists_of_their_own(self):
        schema_type = self.type_of(self.registered, 'VirtualDisk').resolve()
        _child, ancestry = schema_type.get_child('capacityInKB')
        ancestry.append('changed by a caller')
        _child, again = schema_type.get_child('capacityInKB')
        self.assertNotIn('changed by a caller', again)

    def test_registered_factory_still_builds_objects(self):
        # A data object built by the registered client's factory has every
        # field of its type, found through the memoised look-ups.
        disk = self.registered.factory.create('ns0:VirtualDisk')
        self.assertIn('capacityInKB', disk.__keylist__)


class PrototypeTest(RegisteredTestCase):
    """Objects created from memoised prototypes, against suds' own."""

    BUILT = ('VirtualMachineConfigSpec', 'VirtualDeviceConfigSpec',
             'ObjectSpec', 'PropertySpec', 'PropertyFilterSpec',
             'RetrieveOptions', 'ManagedObjectReference',
             'VirtualDisk', 'OptionValue', 'ObjectContent',
             'VirtualMachineConfigInfo')

    def test_installed_on_suds(self):
        from suds import builder
        self.assertIs(schemalookup.build, builder.Builder.build)

    def test_copies_equal_what_suds_builds(self):
        for name in self.BUILT:
            for _round in range(3):
                got = self.registered.factory.create('ns0:%s' % name)
                want = self.plain.factory.create('ns0:%s' % name)
                self.assertEqual(str(want), str(got), name)
                self.assertEqual(type(want).__name__, type(got).__name__)
                self.assertEqual(want.__keylist__, got.__keylist__)
                self.assertEqual(want.__metadata__.ordering,
                                 got.__metadata__.ordering)
                self.assertEqual(want.__metadata__.sxtype.name,
                                 got.__metadata__.sxtype.name)

    def test_copies_share_nothing_mutable(self):
        spec = self.registered.factory.create('ns0:VirtualMachineConfigSpec')
        spec.name = 'changed'
        spec.deviceChange.append('changed')
        spec.__metadata__.ordering.append('changed')
        again = self.registered.factory.create('ns0:VirtualMachineConfigSpec')
        self.assertIsNone(again.name)
        self.assertEqual([], again.deviceChange)
        self.assertNotIn('changed', again.__metadata__.ordering)
        # Nested data objects are new objects too.
        info = self.registered.factory.create('ns0:ObjectContent')
        other = self.registered.factory.create('ns0:ObjectContent')
        self.assertIsNot(info.obj, other.obj)

    def test_prototype_kept_only_for_registered_descriptions(self):
        schema_type = self.plain.wsdl.schema.types[
            ('OptionValue', NS)]
        self.plain.factory.create('ns0:OptionValue')
        self.assertNotIn(schemalookup._CACHE, schema_type.__dict__)
        registered = self.registered.wsdl.schema.types[('OptionValue', NS)]
        self.registered.factory.create('ns0:OptionValue')
        self.assertIn('prototype',
                      registered.__dict__[schemalookup._CACHE])

    def test_objects_other_than_data_are_built_every_time(self):
        from suds import sudsobject
        self.assertFalse(schemalookup._plain_tree([object()]))
        self.assertFalse(schemalookup._plain_tree(
            sudsobject.Factory.object('X', {'a': object()})))

    def test_properties_are_copied_too(self):
        # A managed object reference is a suds Property (text content and
        # a type attribute).
        from suds import sudsobject
        prop = sudsobject.Factory.property('Mixed', 'text')
        prop._type = 'Folder'
        self.assertTrue(schemalookup._plain_tree(prop))
        copy = schemalookup._copy(prop)
        self.assertIsNot(prop, copy)
        self.assertIsInstance(copy, type(prop))
        self.assertEqual(('text', 'Folder'), (copy.value, copy._type))
        self.assertEqual(prop.__keylist__, copy.__keylist__)
        spec = self.registered.factory.create('ns0:ObjectSpec')
        again = self.registered.factory.create('ns0:ObjectSpec')
        want = self.plain.factory.create('ns0:ObjectSpec')
        self.assertEqual(str(want), str(spec))
        if isinstance(spec.obj, sudsobject.Object):
            self.assertIsNot(spec.obj, again.obj)
        self.assertTrue(schemalookup._plain_tree(
            [None, 'a', 1, sudsobject.Factory.object('X', {'a': [2]})]))


class ReplyLockTest(RegisteredTestCase):
    """Registered descriptions' answers are unmarshalled under one lock.

    suds' unmarshalling of a shared description is not thread-safe.
    """

    class _Binding:
        def __init__(self, client):
            self.wsdl = client.wsdl

        def schema(self):
            return self.wsdl.schema

    def _held_while_unmarshalling(self, client):
        held = []

        def fake_get_reply(binding, method, replyroot):
            held.append(schemalookup._reply_lock.locked())
            return 'reply of %s' % method

        with mock.patch.object(schemalookup, '_get_reply', fake_get_reply):
            reply = schemalookup.get_reply(self._Binding(client), 'M',
                                           'root')
        self.assertEqual('reply of M', reply)
        self.assertFalse(schemalookup._reply_lock.locked())
        return held

    def test_installed_on_suds(self):
        from suds.bindings import binding
        self.assertIs(schemalookup.get_reply, binding.Binding.get_reply)

    def test_registered_description_unmarshals_under_the_lock(self):
        self.assertEqual([True], self._held_while_unmarshalling(
            self.registered))

    def test_other_descriptions_are_not_locked(self):
        self.assertEqual([False], self._held_while_unmarshalling(self.plain))

    def test_lock_released_when_unmarshalling_fails(self):
        def failing(binding, method, replyroot):
            raise ValueError('bad answer')

        with mock.patch.object(schemalookup, '_get_reply', failing):
            self.assertRaises(ValueError, schemalookup.get_reply,
                              self._Binding(self.registered), 'M', 'root')
        self.assertFalse(schemalookup._reply_lock.locked())
