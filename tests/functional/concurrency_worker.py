"""A volume driver in a process of its own, for the cross-process tests.

Run as ``python -m tests.functional.concurrency_worker``. Reads one JSON
line on stdin::

    {"options": {...backend options...},
     "ops": [{"op": "create", "volume": {...}},
             {"op": "clone", "volume": {...}, "source": {...}},
             {"op": "delete", "volume": {...}}]}

builds its own session and driver (its own login, its own tooz coordinator),
prints ``READY``, waits for a line ``GO``, then runs every op at once, one
thread each, and prints one JSON line: ``{"results": [...]}`` with ``"ok"``
or the error's class and text per op, in the order given.
"""

import json
import sys
import threading
import types

from tests import threading_backend  # noqa: F401  (must precede oslo_vmware)
from vmware_backend.volume import driver as vmware_driver


def volume(data):
    """A plain volume object from its JSON form."""
    data = dict(data)
    data['volume_type'] = types.SimpleNamespace(
        extra_specs=data.pop('extra_specs', {}))
    return types.SimpleNamespace(**data)


def run_op(driver, op):
    kind = op['op']
    if kind == 'create':
        driver.create_volume(volume(op['volume']))
    elif kind == 'clone':
        driver.create_cloned_volume(volume(op['volume']),
                                    volume(op['source']))
    elif kind == 'delete':
        driver.delete_volume(volume(op['volume']))
    else:
        raise ValueError('unknown op %r' % kind)


def main():
    request = json.loads(sys.stdin.readline())
    driver = vmware_driver.VMwareVolumeDriver(request['options'])
    driver.do_setup()
    # Warm what every op reads first, so the ops of two workers overlap.
    driver.placement.pools(refresh=True)
    print('READY', flush=True)
    if sys.stdin.readline().strip() != 'GO':
        return 2
    results = [None] * len(request['ops'])

    def one(index, op):
        try:
            run_op(driver, op)
            results[index] = 'ok'
        except Exception as err:  # reported to the test, which decides
            results[index] = '%s: %s' % (type(err).__name__, err)

    threads = [threading.Thread(target=one, args=(i, op))
               for i, op in enumerate(request['ops'])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    driver.close()
    driver.session.close()
    print(json.dumps({'results': results}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
