"""A fork server running unit tests against mutants (tools/mutation.sh).

mutmut runs the test command once per mutant. A fresh Python process spends
most of that time importing oslo.*, suds, tooz... and parsing the vSphere
type schemas, the same for every mutant. This server does that once; for
each request it forks a child that imports the project's modules from disk
(the mutant mutmut just wrote), runs the requested unit test modules with
unittest (stopping at the first failure) and exits with unittest's status.

    python tools/mutation_runner.py serve SOCKET    # started by mutation.sh
    python tools/mutation_runner.py run TEST_MODULE...

``run`` sends the request to the server at ``$MUTATION_RUNNER_SOCKET`` and
exits with the tests' status (0 passed, 1 failed), printing their output;
without that variable it runs the tests in its own process, like ``python
-m unittest -f -q``. The server refuses to start when one of the modules
under mutation (``mutmut_config.TESTS_BY_MODULE``) is already imported: a
child would then test the original instead of the mutant.
"""

import json
import os
import signal
import socket
import sys
import tempfile
import time
import unittest

# A request whose tests run longer than this is answered as failed
# ("timeout"); the child is killed.
TIMEOUT = int(os.environ.get('MUTATION_TEST_TIMEOUT', '600'))


def _run_tests(modules, stream):
    suite = unittest.defaultTestLoader.loadTestsFromNames(modules)
    runner = unittest.TextTestRunner(stream=stream, failfast=True,
                                     verbosity=0)
    return 0 if runner.run(suite).wasSuccessful() else 1


def _preload(root):
    """Import what every test process needs, except the project's modules."""
    sys.path.insert(0, root)
    sys.dont_write_bytecode = True
    import mutmut_config
    from tests.unit import wsdl_factory
    wsdl_factory.factory()
    import fixtures  # noqa: F401
    import oslo_config.cfg  # noqa: F401
    import oslo_log.log  # noqa: F401
    import oslo_vmware.api  # noqa: F401
    import oslo_vmware.vim_util  # noqa: F401
    import testtools  # noqa: F401
    import tooz.coordination  # noqa: F401
    mutated = {path[:-3].replace('/', '.')
               for path in mutmut_config.TESTS_BY_MODULE}
    loaded = sorted(mutated & set(sys.modules))
    if loaded:
        raise SystemExit('mutation_runner: %s already imported before the '
                         'fork; a child would test the original'
                         % ', '.join(loaded))


def _child(modules, out_path):
    with open(out_path, 'w') as out:
        try:
            code = _run_tests(modules, out)
        except BaseException as err:  # import errors of a mutant too
            out.write('error: %r\n' % (err,))
            code = 1
        out.flush()
    os._exit(code)  # no atexit handlers of the server's state


def _answer(request):
    modules = request['tests']
    fd, out_path = tempfile.mkstemp(prefix='mutation-run-')
    os.close(fd)
    try:
        pid = os.fork()
        if pid == 0:
            _child(modules, out_path)
        deadline = time.monotonic() + TIMEOUT
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = 1
                break
            time.sleep(0.02)
        with open(out_path) as out:
            output = out.read()
    finally:
        os.unlink(out_path)
    return {'code': 1 if code else 0, 'output': output}


def _read_line(conn):
    data = b''
    while not data.endswith(b'\n'):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def serve(path):
    _preload(os.getcwd())
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    print('mutation_runner: serving on %s (pid %d)' % (path, os.getpid()),
          flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            request = json.loads(_read_line(conn))
            conn.sendall(json.dumps(_answer(request)).encode() + b'\n')


def run(modules):
    path = os.environ.get('MUTATION_RUNNER_SOCKET')
    if not path:
        return _run_tests(modules, sys.stderr)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        conn.sendall(json.dumps({'tests': modules}).encode() + b'\n')
        answer = json.loads(_read_line(conn))
    sys.stderr.write(answer['output'])
    return answer['code']


def main(argv):
    if len(argv) >= 2 and argv[0] == 'serve':
        return serve(argv[1])
    if len(argv) >= 2 and argv[0] == 'run':
        return run(argv[1:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
