"""The package's shape: layers by folder, no import cycles, small modules."""

import ast
import os

import testtools

PACKAGE = os.path.join(os.path.dirname(__file__), '..', '..',
                       'vmware_backend')
MAX_LINES = 500
# Which layer may import which (besides vmware_backend.conf, .exceptions
# and .utils, which any layer may use).
ALLOWED = {
    'vsphere': {'vsphere'},
    'volume': {'vsphere', 'volume'},
    'admin': {'vsphere', 'volume', 'admin'},
    'openstack': {'volume'},
    'cmd': {'vsphere', 'volume', 'admin', 'cmd', 'testbed'},
    # The fault campaign (testbed/faults) drives the volume driver.
    'testbed': {'testbed', 'vsphere', 'volume'},
}


def _modules():
    for root, _dirs, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, '.')
                if rel.endswith('__init__'):
                    rel = rel[:-len('.__init__')] if '.' in rel else ''
                yield ('vmware_backend.' + rel).rstrip('.'), path


def _imports(path):
    """vmware_backend modules imported by the file at ``path``."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith('vmware_backend'):
            for alias in node.names:
                found.add('%s.%s' % (node.module, alias.name))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names
                         if a.name.startswith('vmware_backend'))
    return found


class LayoutTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.modules = dict(_modules())
        self.graph = {}
        for name, path in self.modules.items():
            targets = set()
            for imported in _imports(path):
                while imported not in self.modules and '.' in imported:
                    imported = imported.rsplit('.', 1)[0]
                if imported in self.modules and imported != name:
                    targets.add(imported)
            self.graph[name] = targets

    def test_no_import_cycles(self):
        state = {}

        def visit(node, stack):
            state[node] = 'open'
            for target in sorted(self.graph[node]):
                if state.get(target) == 'open':
                    self.fail('import cycle: %s' % ' -> '.join(
                        stack[stack.index(target):] + [target]))
                if target not in state:
                    visit(target, stack + [target])
            state[node] = 'done'

        for node in sorted(self.graph):
            if node not in state:
                visit(node, [node])

    def test_layers_import_only_lower_layers(self):
        wrong = []
        for name, targets in self.graph.items():
            parts = name.split('.')
            if len(parts) < 3 or parts[1] not in ALLOWED:
                continue
            for target in targets:
                tparts = target.split('.')
                if len(tparts) >= 3 and tparts[1] not in ALLOWED[parts[1]]:
                    wrong.append('%s imports %s' % (name, target))
        self.assertEqual([], sorted(wrong))

    def test_modules_stay_small(self):
        big = {}
        for name, path in self.modules.items():
            with open(path) as f:
                count = sum(1 for _line in f)
            if count > MAX_LINES:
                big[name] = count
        self.assertEqual({}, big)

    def test_layer_folders_exist(self):
        for layer in ALLOWED:
            self.assertIn('vmware_backend.%s' % layer, self.modules)
