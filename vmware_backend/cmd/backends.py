"""Several backends at once: ``check``, ``pools``, ``volumes``, ``audit``.

The backends are found in the configuration files (``--config-file``, any
number): every Cinder backend section whose ``volume_driver`` is this
package's Cinder driver (:data:`DRIVER`), and a ``[vmware]`` section of the
package's own ini file. ``--backend NAME`` (repeatable) keeps only those
sections. As inside Cinder, a Cinder section's ``volume_backend_name`` is
the backend name that owns the backings (``vcenter_backend_name``).

The backends are read concurrently on one asyncio event loop. A backend
whose vCenter offers VI/JSON (``vcenter_read_transport`` auto or json) runs
its command entirely on that loop with a VI/JSON-only session
(:mod:`vmware_backend.vsphere.json.session`: System.hello, the service
content, Login, the reads and Logout over VI/JSON, no SOAP session, no
suds); the command's synchronous code runs in a greenlet of its own
(:mod:`vmware_backend.vsphere.json.bridge`), so the backends' waits
overlap and their CPU work runs without threads handing the GIL to each
other. A backend read over SOAP (transport soap, a vCenter without
VI/JSON in auto mode, ``audit --fix``/``--purge``, which write) runs as
before on a SOAP session (oslo.vmware) in a thread of a pool as large as
the number of backends. ``audit --volume-ids -`` reads stdin once, for
every backend. Each
backend's progress lines go to stderr as they come, prefixed with its name;
its result is printed when all are done, in configuration order, one block
(table) or one entry (JSON) per backend. A backend that fails (vCenter
unreachable, login refused) is reported in its block and does not hide the
others; the exit status is the worst of all (1 for a failed backend).
"""

import argparse
import asyncio
import concurrent.futures
import configparser
import io
import threading

from oslo_config import cfg

from vmware_backend.cmd import commands
from vmware_backend.cmd import formatting
from vmware_backend.cmd import output
from vmware_backend import conf
from vmware_backend import exceptions

DRIVER = 'vmware_backend.openstack.cinder_driver.VMwareBackendCinderDriver'
OWN_SECTION = conf.GROUP
FANOUT_COMMANDS = ('check', 'pools', 'volumes', 'audit')
# As the Cinder adapter: the backend name when volume_backend_name is unset.
DEFAULT_CINDER_NAME = 'VMwareBackendCinderDriver'


class Backend:
    """One backend section: its name, file and option values."""

    def __init__(self, name, path, options):
        self.name = name
        self.path = path
        self.options = options

    @property
    def label(self):
        return '%s (%s)' % (self.name, self.path)


def _sections(path):
    """The backend sections of ``path``: [(section, is_cinder)]."""
    parser = configparser.RawConfigParser(strict=False,
                                          default_section='DEFAULT')
    try:
        with open(path) as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error) as err:
        raise output.UsageError('cannot read %s: %s' % (
            path, str(err).splitlines()[0]))
    found = []
    for section in parser.sections():
        driver = parser.get(section, 'volume_driver', fallback='').strip()
        if driver == DRIVER:
            found.append((section, True))
        elif section == OWN_SECTION:
            found.append((section, False))
    return found


def _read_sections(path, sections):
    """{section: option values} of the backend ``sections`` of ``path``.

    One oslo.config parse of the file for all of its sections (parsing it
    once per section made reading N backends' files cost N times N).

    :param sections: ``[(section, is_cinder)]``.
    """
    config = cfg.ConfigOpts()
    for section, _is_cinder in sections:
        conf.register_opts(config, group=section)
        config.register_opts([cfg.StrOpt('volume_backend_name')],
                             group=section)
    found = {}
    try:
        config(args=[], default_config_files=[path], default_config_dirs=[])
        for section, is_cinder in sections:
            options = conf.read_options(config, group=section)
            if is_cinder:
                options['vcenter_backend_name'] = (
                    config[section].volume_backend_name or
                    DEFAULT_CINDER_NAME)
            found[section] = options
    except cfg.Error as err:
        raise output.UsageError('cannot read %s: %s' % (path, err))
    except exceptions.InvalidConfiguration as err:
        raise output.UsageError('%s (in %s)' % (err, path))
    return found


def wanted(paths, names=None):
    """Whether the command goes through this module.

    Yes for several files, --backend, or a Cinder backend section; else the
    [vmware] section of one file is read as before.
    """
    if names or len(paths) > 1:
        return True
    return any(is_cinder for path in paths
               for _, is_cinder in _sections(path))


def find(paths, names=None):
    """The backends of the files ``paths``, or only those named ``names``.

    :raises output.UsageError: no backend section, or a name not found.
    """
    found = []
    for path in paths:
        for section, is_cinder in _sections(path):
            if names and section not in names:
                continue
            found.append((path, section, is_cinder))
    if names:
        missing = sorted(set(names) - {section for _, section, _ in found})
        if missing:
            raise output.UsageError(
                'no backend section %s in %s (backend sections have '
                'volume_driver = %s, or are [%s])' % (
                    ', '.join(missing), ', '.join(paths), DRIVER,
                    OWN_SECTION))
    if not found:
        raise output.UsageError(
            'no backend section in %s: a section with volume_driver = %s '
            'or a [%s] section' % (', '.join(paths), DRIVER, OWN_SECTION))
    by_path = {}
    for path, section, is_cinder in found:
        by_path.setdefault(path, []).append((section, is_cinder))
    values = {path: _read_sections(path, sections)
              for path, sections in by_path.items()}
    return [Backend(section, path, values[path][section])
            for path, section, _is_cinder in found]


def one(backends, command):
    """The single backend a command that acts on one backend runs on.

    :raises output.UsageError: several backends found, naming them and
        ``--backend NAME``.
    """
    if len(backends) == 1:
        return backends[0]
    raise output.UsageError(
        '%s acts on one backend at a time: pick it with --backend NAME '
        '(found: %s)' % (command, ', '.join(
            '%s in %s' % (b.name, b.path) for b in backends)))


class _BackendOutput(output.Output):
    """One backend's output: progress prefixed, the result kept."""

    def __init__(self, parent, backend, lock):
        super().__init__(parent.format, stdout=io.StringIO(),
                         stderr=parent._stderr, verbose=parent.verbose)
        self._secrets = list(parent._secrets)
        self.add_secret(backend.options.get('vcenter_password'))
        self._prefix = '[%s] ' % backend.name
        self._lock = lock
        self.results = []
        self.errors = []

    def result(self, data, render):
        self.results.append((data, render))

    def progress(self, text):
        with self._lock:
            super().progress(self._prefix + text)

    def error(self, text, hint=None):
        self.errors.append({'error': self._scrub(text),
                            'hint': self._scrub(hint) if hint else None})
        super().error(text, hint)


def _run_one(args, backend, out):
    """Run the command on one backend; its exit status."""
    try:
        return commands.HANDLERS[args.command](args, backend.options, out)
    except (output.UsageError, exceptions.VMwareBackendException) as err:
        return commands.failure_status(err, out)
    except Exception as err:   # one backend's bug must not hide the others
        out.error('%s: %s' % (type(err).__name__, err))
        return output.EXIT_PROBLEM


# False: every backend on a SOAP session in a thread, its reads over
# VI/JSON when offered (the fan-out before VI/JSON-only sessions); for
# ``python -m bench.fanout``, which times both in the same run.
VIJSON_SESSIONS = True


def _over_soap(args, backend):
    """Whether a backend's command runs on a SOAP session (in a thread)."""
    from vmware_backend.vsphere.json import select
    return (not VIJSON_SESSIONS or args.command not in FANOUT_COMMANDS or
            getattr(args, 'fix', False) or getattr(args, 'purge', False) or
            not backend.options.get('vcenter_host') or
            select.mode_of(backend.options) == select.SOAP)


async def _run_backend(args, backend, out, pool):
    """One backend's command on the event loop; its exit status.

    Over VI/JSON only when its vCenter offers it (see the module doc),
    else on a SOAP session in a thread of ``pool``.
    """
    loop = asyncio.get_running_loop()
    if _over_soap(args, backend):
        return await loop.run_in_executor(pool, _run_one, args, backend, out)
    from vmware_backend.vsphere.json import session as json_session
    session = json_session.JSONSession(backend.options)
    try:
        if await session.start():
            return await json_session.run_sync_with(
                session, _run_one, args, backend, out)
    finally:
        try:
            await session.aclose()
        finally:
            session.forget_secret()
    # auto, and this vCenter has no VI/JSON
    return await loop.run_in_executor(pool, _run_one, args, backend, out)


async def _one(args, backend, out, pool):
    try:
        return await _run_backend(args, backend, out, pool)
    except Exception as err:   # one backend's bug must not hide the others
        out.error('%s: %s' % (type(err).__name__, err))
        return output.EXIT_PROBLEM


async def _run_all(args, backends, outs):
    with concurrent.futures.ThreadPoolExecutor(
            max_workers=len(backends),
            thread_name_prefix='backend') as pool:
        return await asyncio.gather(*[
            _one(args, b, o, pool) for b, o in zip(backends, outs)])


def run(args, backends, out):
    """Run ``args.command`` on every backend concurrently; exit status."""
    if len(backends) > 1 and (getattr(args, 'fix', False) or
                              getattr(args, 'purge', False)):
        names = ', '.join(b.name for b in backends)
        raise output.UsageError(
            '--fix and --purge act on one backend at a time: pick it with '
            '--backend NAME (found: %s)' % names)
    if args.command == 'audit' and getattr(args, 'known_ids', None) is None:
        # --volume-ids - is stdin: read it once, for every backend
        args = argparse.Namespace(**vars(args))
        args.known_ids = commands.read_volume_ids(args.volume_ids)
    lock = threading.Lock()
    outs = [_BackendOutput(out, b, lock) for b in backends]
    statuses = asyncio.run(_run_all(args, backends, outs))
    _print(out, backends, outs, statuses)
    order = (output.EXIT_OK, output.EXIT_PROBLEM, output.EXIT_USAGE)
    return max(statuses, key=lambda s: order.index(s) if s in order else 3)


def _print(out, backends, outs, statuses):
    if out.format == 'json':
        entries = []
        for backend, bout, status in zip(backends, outs, statuses):
            entries.append({
                'backend': backend.name, 'config_file': backend.path,
                'status': status,
                'result': bout.results[-1][0] if bout.results else None,
                'errors': bout.errors})
        out._stdout.write(out._scrub(formatting.dumps(
            {'backends': entries})) + '\n')
        out._stdout.flush()
        return
    blocks = []
    for backend, bout, status in zip(backends, outs, statuses):
        lines = ['== backend %s: %s ==' % (
            backend.label, 'ok' if status == output.EXIT_OK else
            'FAILED (exit %d)' % status)]
        for data, render in bout.results:
            lines.append(render(data))
        for entry in bout.errors:
            lines.append('error: %s' % entry['error'])
            if entry['hint']:
                lines.append('hint: %s' % entry['hint'])
        blocks.append(bout._scrub('\n'.join(lines)))
    out._stdout.write('\n\n'.join(blocks) + '\n')
    out._stdout.flush()
