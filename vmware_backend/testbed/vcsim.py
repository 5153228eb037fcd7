"""Build and run the project's vCenter simulator (govmomi's vcsim).

The Go main and the patches that make vcsim 0.24.2 behave like vCenter live
in ``vmware_backend/testbed/vcsim``; :func:`build` compiles them once per
source version into the cache directory, installing Debian's ``golang-go``
and ``golang-github-vmware-govmomi-dev`` first when missing (as root).
:class:`VcsimServer` runs the binary on a free loopback port.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading

from vmware_backend.testbed import paths
from vmware_backend.testbed import wsdl

APT_PACKAGES = ('golang-go', 'golang-github-vmware-govmomi-dev', 'patch')
GOVMOMI_SRC = '/usr/share/gocode/src/github.com/vmware/govmomi'
DEFAULT_USER = 'vcsim-user'
DEFAULT_PASSWORD = 'vcsim-Secret-pass'
START_TIMEOUT = 600


class TestBedError(RuntimeError):
    """The simulator could not be built or started."""


def _source_digest(src):
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(('.go', '.patch', '.sh')):
                path = os.path.join(root, name)
                digest.update(os.path.relpath(path, src).encode())
                with open(path, 'rb') as f:
                    digest.update(f.read())
    return digest.hexdigest()[:12]


def ensure_toolchain():
    """Install the Go toolchain and govmomi sources when missing."""
    if shutil.which('go') and shutil.which('patch') and \
            os.path.isdir(GOVMOMI_SRC):
        return
    install = 'apt-get install -y %s' % ' '.join(APT_PACKAGES)
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        raise TestBedError('The vCenter simulator needs Go and the govmomi '
                           'sources; run as root: apt-get update && %s'
                           % install)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for cmd in (['apt-get', 'update', '-qq'],
                ['apt-get', 'install', '-y', '-qq'] + list(APT_PACKAGES)):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise TestBedError('%s failed: %s' % (' '.join(cmd),
                                                  proc.stderr.strip()))


def build(force=False):
    """Return the path of the simulator binary, building it if needed.

    ``$VMWARE_BACKEND_VCSIM_BIN`` names a prebuilt binary to use instead.
    """
    override = os.environ.get('VMWARE_BACKEND_VCSIM_BIN')
    if override:
        return override
    src = paths.vcsim_source_dir()
    binary = os.path.join(paths.cache_dir(),
                          'vcsim-%s' % _source_digest(src))
    if os.path.exists(binary) and not force:
        return binary
    ensure_toolchain()
    fd, tmp = tempfile.mkstemp(prefix='vcsim-build-', dir=paths.cache_dir())
    os.close(fd)
    try:
        proc = subprocess.run(['bash', os.path.join(src, 'build.sh'), tmp],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise TestBedError('Building vcsim failed:\n%s%s'
                               % (proc.stdout, proc.stderr))
        os.chmod(tmp, 0o755)
        os.replace(tmp, binary)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return binary


class VcsimServer:
    """One running simulator process on a free loopback port.

    :param flags: extra command-line flags of the simulator main, as a dict
        (``{'vms': 100, 'task-delay-ms': 200}``) or a list of strings.
    """

    def __init__(self, flags=None, username=DEFAULT_USER,
                 password=DEFAULT_PASSWORD):
        self.username = username
        self.password = password
        self.flags = flags or {}
        self.url = None
        self.port = None
        self._proc = None
        self._stderr = None
        self._lock_dir = None

    def _argv(self, binary):
        argv = [binary, '-listen', '127.0.0.1:0',
                '-username', self.username, '-password', self.password]
        if isinstance(self.flags, dict):
            for key, value in self.flags.items():
                argv += ['-%s' % key, str(value)]
        else:
            argv += list(self.flags)
        return argv

    def start(self, timeout=START_TIMEOUT):
        """Start the simulator and wait until it serves requests."""
        binary = build()
        self.wsdl = wsdl.assemble()
        if self._lock_dir is None:
            # The drivers' per-volume locks (file backend): the simulator's
            # volumes live and die with it, so do their locks.
            self._lock_dir = tempfile.mkdtemp(prefix='vcsim-locks-')
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(self._argv(binary),
                                      stdout=subprocess.PIPE,
                                      stderr=self._stderr, text=True)
        lines = []
        reader = threading.Thread(target=self._read_banner, args=(lines,),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if self.url is None or 'VCSIM_READY' not in lines:
            self.stop()
            raise TestBedError('vcsim did not start within %ss: %s'
                               % (timeout, self.stderr_tail()))
        self.port = int(self.url.rsplit(':', 1)[1].split('/')[0])
        return self

    def _read_banner(self, lines):
        for line in self._proc.stdout:
            line = line.strip()
            lines.append(line)
            if line.startswith('VCSIM_URL='):
                self.url = line.split('=', 1)[1]
            if line == 'VCSIM_READY':
                return

    def stderr_tail(self, limit=4000):
        """The last characters the simulator wrote to stderr."""
        if self._stderr is None:
            return ''
        self._stderr.seek(0)
        return self._stderr.read().decode(errors='replace')[-limit:]

    def alive(self):
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self):
        """The simulator's process id (None when not running)."""
        return self._proc.pid if self._proc is not None else None

    def stop(self):
        """Stop the simulator (SIGTERM, then SIGKILL after 10 s)."""
        if self._lock_dir is not None:
            shutil.rmtree(self._lock_dir, ignore_errors=True)
            self._lock_dir = None
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        self._proc = None

    def options(self, **overrides):
        """Backend option values that point at this simulator."""
        opts = {
            'vcenter_host': '127.0.0.1',
            'vcenter_port': self.port,
            'vcenter_scheme': 'http',
            'vcenter_username': self.username,
            'vcenter_password': self.password,
            'vcenter_wsdl_location': self.wsdl,
        }
        if self._lock_dir is not None:
            opts['vcenter_coordination_url'] = 'file://' + self._lock_dir
        opts.update(overrides)
        return opts

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
