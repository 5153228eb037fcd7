"""The parsed vSphere service description, cached by its content.

suds turns the WSDL and its schema files (about 2.5 MB of XML) into a
:class:`suds.wsdl.Definitions` graph, and that takes more than a second: it
was ~99 % of starting a session. oslo.vmware's in-process cache keeps only
the XML documents (suds' ``cachingpolicy`` 0), so every session still
rebuilds the graph.

Here the graph, together with suds' service definitions (the ``ns0``...
prefixes ``factory.create`` relies on), is pickled once per content:

* the key is the SHA-256 of every document of the description (the WSDL and
  every file it imports or includes, transitively, fetched through the
  session's own transport), of this cache's format version, of the suds
  version and of the Python version. A changed WSDL or schema file gives a
  new key, so a stale or foreign description is never used;
* in the process, one graph is shared by every session (it is read-only
  once built, as it already was for the threads of one session). suds'
  bindings read a few options from the graph rather than from the calling
  client; the graph gets :data:`SHARED_OPTIONS`, which has suds' defaults
  for those and the SOAP headers (oslo.vmware's operation id) that the
  calling thread last set for its client (:func:`set_soapheaders`);
* on disk, in ``vcenter_wsdl_cache_dir`` (default
  ``$XDG_CACHE_HOME/vmware_backend/wsdl``, else
  ``~/.cache/vmware_backend/wsdl``): the directory is made 0700, each file
  is written 0600 through an atomic rename and carries a checksum of its
  payload. A file or directory that is not owned by this user or that others
  may write is never unpickled (unpickling runs code): the description is
  then parsed as without a cache, and a warning says why.

The pickled description is ``(Definitions, service definitions, schemas)``:
the last is every Schema object of the graph, registered with
:mod:`vmware_backend.vsphere.schemalookup` once the description is
finished (loaded, or parsed and written), so that suds' schema look-ups on
it are memoised (format 2).

The client options (transport, plugins) are not part of the pickle: the
graph refers to them by a persistent id and receives
:data:`SHARED_OPTIONS`. Equal XML text values are pickled once (a third of
the load time went into 72 000 suds ``Text`` objects).
"""

import gc
import hashlib
import io
import operator
import os
import pickle
import re
import stat
import sys
import tempfile
import threading
from urllib import parse

from oslo_log import log as oslo_logging
import suds
from suds import client as suds_client
from suds import options as suds_options
from suds import plugin as suds_plugin
from suds.sax import text as suds_text
from suds import servicedefinition
from suds import store as suds_store
from suds import transport as suds_transport
from suds import wsdl as suds_wsdl

from vmware_backend.vsphere import schemalookup

LOG = oslo_logging.getLogger(__name__)

# Bump when what is pickled changes shape.
FORMAT = b'vmware_backend-wsdl-2'
_MAGIC = b'VBWSDL1\n'
_OPTIONS_ID = 'client-options'

_IMPORT = re.compile(
    rb'<(?:[\w.-]+:)?(?:import|include)\b[^>]*?\b(?:schemaLocation|location)'
    rb'\s*=\s*["\']([^"\']+)["\']', re.S)

# Memoised schema look-ups on the descriptions built or loaded here.
schemalookup.install()

_memory = {}
_key_locks = {}
_memory_lock = threading.Lock()


def default_dir():
    """``$XDG_CACHE_HOME/vmware_backend/wsdl`` or ``~/.cache/...``."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(
        os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'vmware_backend', 'wsdl')


# SHA-256 of a document -> the locations it imports or includes: scanning
# 2.5 MB of XML with the pattern cost more than the rest of a session's
# start once the description is loaded; hashing is ten times cheaper.
_imports_memo = {}
_IMPORTS_MEMO_SIZE = 256


def _imports(content):
    key = hashlib.sha256(content).digest()
    found = _imports_memo.get(key)
    if found is None:
        found = tuple(location.decode('utf-8')
                      for location in _IMPORT.findall(content))
        if len(_imports_memo) >= _IMPORTS_MEMO_SIZE:
            _imports_memo.clear()
        _imports_memo[key] = found
    return found


def _read(url, transport):
    """The content at ``url``: a local file directly, else the transport."""
    parts = parse.urlsplit(url)
    if parts.scheme == 'file' and parts.netloc in ('', 'localhost'):
        with open(parse.unquote(parts.path), 'rb') as handle:
            return handle.read()
    reply = transport.open(suds_transport.Request(url))
    try:
        return reply.read()
    finally:
        reply.close()


def read_documents(url, transport):
    """Every document of the description at ``url``, in discovery order.

    Local files (``file://``) are read directly, others through
    ``transport`` (the session's, with its TLS settings).

    :returns: list of (url, content bytes).
    """
    documents = []
    seen = {url}
    pending = [url]
    while pending:
        current = pending.pop(0)
        content = _read(current, transport)
        documents.append((current, content))
        for location in _imports(content):
            target = parse.urljoin(current, location)
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return documents


def digest(documents):
    """The cache key of a description made of ``documents``."""
    sha = hashlib.sha256()
    root = documents[0][0].rsplit('/', 1)[0] + '/'
    for part in (FORMAT, suds.__version__.encode(),
                 ('%d.%d' % sys.version_info[:2]).encode()):
        sha.update(b'%d:%s' % (len(part), part))
    for url, content in documents:
        # Names relative to the WSDL's folder: the same files served by two
        # vCenters share one entry.
        name = (url[len(root):] if url.startswith(root) else url).encode()
        sha.update(b'%d:%s%d:' % (len(name), name, len(content)))
        sha.update(content)
    return sha.hexdigest()


class _SharedOptions:
    """The options suds' bindings read from the shared graph.

    suds' defaults, and the calling thread's SOAP headers.
    """

    xstq = True
    prefixes = True
    allowUnknownMessageParts = False
    extraArgumentErrors = True
    wsse = None
    unwrap = True
    sortNamespaces = True
    plugins = ()

    def __init__(self):
        self._local = threading.local()

    @property
    def soapheaders(self):
        return getattr(self._local, 'soapheaders', ())


SHARED_OPTIONS = _SharedOptions()


def set_soapheaders(headers):
    """The SOAP headers of this thread's next request (see SHARED_OPTIONS)."""
    SHARED_OPTIONS._local.soapheaders = headers or ()


def _text(value, lang, escaped):
    # suds.sax.text.Text without its __new__/__setstate__ round trip.
    text = str.__new__(suds_text.Text, value)
    text.lang = lang
    text.escaped = escaped
    return text


_SAME = operator.itemgetter(0)


class _Pickler(pickle.Pickler):
    def __init__(self, handle):
        super().__init__(handle, pickle.HIGHEST_PROTOCOL)
        self._texts = {}

    def persistent_id(self, obj):
        if isinstance(obj, (suds_options.Options, _SharedOptions)):
            return _OPTIONS_ID
        return None

    def reducer_override(self, obj):
        if type(obj) is not suds_text.Text:
            return NotImplemented
        key = (str(obj), obj.lang, obj.escaped)
        first = self._texts.setdefault(key, obj)
        if first is obj:
            return _text, key
        # Equal texts become one object (they are immutable strings).
        return _SAME, ((first,),)


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        if pid != _OPTIONS_ID:
            raise pickle.UnpicklingError('unknown persistent id %r' % pid)
        return SHARED_OPTIONS


def _dumps(description):
    buf = io.BytesIO()
    _Pickler(buf).dump(description)
    return buf.getvalue()


def _loads(payload):
    # Unpickling makes ~500 000 objects; the cyclic collector would run
    # hundreds of times over them (5x the time of the load itself), and
    # once more through all of them right after. They live as long as the
    # process (the shared description), so they are moved to the
    # collector's permanent generation (gc.freeze, which also takes the
    # objects alive at that moment: they are only never scanned again).
    enabled = gc.isenabled()
    gc.disable()
    try:
        description = _Unpickler(io.BytesIO(payload)).load()
        gc.freeze()
        return description
    finally:
        if enabled:
            gc.enable()


class DescriptionCache:
    """Loads and stores the parsed description of one set of documents.

    :param key: :func:`digest` of the documents.
    :param directory: cache directory, or None for the process memory only.
    """

    def __init__(self, key, directory):
        self.key = key
        self.directory = directory
        self.source = None   # 'memory', 'file' or 'parsed', once loaded

    @property
    def path(self):
        if not self.directory:
            return None
        return os.path.join(self.directory, self.key + '.pickle')

    def load(self):
        """The cached (definitions, service definitions), or None."""
        with _memory_lock:
            description = _memory.get(self.key)
        if description is not None:
            self.source = 'memory'
            return description
        payload = self._read_file() if self.path else None
        if payload is None:
            return None
        try:
            description = _loads(payload)
            _share_options(description[0])
            schemalookup.register(description[2])
        except Exception as err:
            LOG.warning('Ignoring the cached vSphere service description '
                        '%s: %s', self.path, err)
            return None
        with _memory_lock:
            description = _memory.setdefault(self.key, description)
        self.source = 'file'
        return description

    def lock(self):
        """A lock of this key: concurrent sessions parse only once."""
        with _memory_lock:
            return _key_locks.setdefault(self.key, threading.Lock())

    def remember(self, description):
        """Share ``description`` with the sessions of this process."""
        with _memory_lock:
            _memory[self.key] = description
        self.source = 'parsed'

    def save(self, description):
        """Share ``description`` in the process and store it on disk."""
        self.remember(description)
        self.write(description)

    def write(self, description):
        """Store ``description`` on disk (when there is a directory)."""
        if not self.path:
            return
        try:
            self._write_file(_dumps(description))
        except (OSError, pickle.PicklingError) as err:
            LOG.warning('Cannot cache the vSphere service description '
                        'in %s: %s', self.directory, err)

    def _safe_dir(self, create):
        if create:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        info = os.stat(self.directory)
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            raise PermissionError(
                '%s is not owned by this user or may be written by others; '
                'the cache is not used' % self.directory)
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(self.directory, 0o700)

    def _read_file(self):
        try:
            self._safe_dir(create=False)
            fd = os.open(self.path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        except FileNotFoundError:
            return None
        except OSError as err:
            LOG.warning('Cannot use the vSphere service description cache: '
                        '%s', err)
            return None
        with os.fdopen(fd, 'rb') as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                LOG.warning('Not using %s: it must be owned by this user '
                            'and have mode 0600', self.path)
                return None
            data = handle.read()
        head = len(_MAGIC) + 64
        payload = data[head:]
        if (not data.startswith(_MAGIC) or
                data[len(_MAGIC):head].decode('ascii', 'replace') !=
                hashlib.sha256(payload).hexdigest()):
            LOG.warning('Ignoring the damaged cache file %s', self.path)
            return None
        return payload

    def _write_file(self, payload):
        self._safe_dir(create=True)
        fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=self.directory)
        try:
            with os.fdopen(fd, 'wb') as handle:   # mkstemp: mode 0600
                handle.write(_MAGIC)
                handle.write(hashlib.sha256(payload).hexdigest().encode())
                handle.write(payload)
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise


def forget_memory():
    """Drop the in-process copies (tests, benchmarks)."""
    with _memory_lock:
        _memory.clear()


def build_client(client_class, url, directory, **kwargs):
    """A suds client of ``client_class`` for the WSDL at ``url``.

    The description comes from the cache when its documents are unchanged,
    else suds parses it and it is cached. ``kwargs`` are suds client
    options; ``transport`` is required (it reads the documents).

    :returns: (client, :class:`DescriptionCache`).
    """
    documents = read_documents(url, kwargs['transport'])
    cache = DescriptionCache(digest(documents), directory)
    # suds reads the documents from this store instead of fetching them
    # a second time when it has to parse them.
    kwargs['documentStore'] = suds_store.DocumentStore(
        {u.split('://', 1)[-1]: content for u, content in documents})
    client = client_class.__new__(client_class)
    _init_client(client, url, cache, kwargs)
    return client, cache


def _share_options(wsdl):
    # Definitions drop their options when pickled (suds' __getstate__).
    for definitions in [wsdl] + [imp.imported for imp in wsdl.imports]:
        definitions.options = SHARED_OPTIONS


def _init_client(client, url, cache, kwargs):
    # suds.client.Client.__init__, with the Definitions and the service
    # definitions from the cache when they are there.
    options = suds_options.Options()
    client.options = options
    client.set_options(**kwargs)
    parsed = False
    with cache.lock():
        description = cache.load()
        if description is None:
            wsdl = suds_wsdl.Definitions(url, options)
            sds = [servicedefinition.ServiceDefinition(wsdl, s)
                   for s in wsdl.services]
            _share_options(wsdl)
            description = (wsdl, sds, schemalookup.schemas_of(wsdl))
            cache.remember(description)
            parsed = True
    if parsed:
        # Outside the lock: the other sessions need not wait for the file.
        cache.write(description)
        # After the pickling: the look-up memos stay out of the file.
        schemalookup.register(description[2])
    client.wsdl, client.sd = description[:2]
    suds_plugin.PluginContainer(options.plugins).init.initialized(
        wsdl=client.wsdl)
    client.factory = suds_client.Factory(client.wsdl)
    client.service = suds_client.ServiceSelector(client, client.wsdl.services)
    client.messages = dict(tx=None, rx=None)
