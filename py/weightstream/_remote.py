"""URLs: which plugin serves a scheme, finding and loading it, opening objects.

Remote objects are read by a source plugin, a native library shipped in its
own package and loaded at run time (see cpp/weightstream/plugin). Every
scheme weightstream knows is served by the weightstream-cloud package, whose
``pip install 'weightstream[s3]'`` (or ``[gcs]``, ``[azure]``, ``[http]``,
``[cloud]``) extra pulls it in.

Where the library is found, first match wins:

1. ``WEIGHTSTREAM_CLOUD_LIBRARY=/path/libweightstream_cloud.so`` (debugging,
   development builds);
2. the installed ``weightstream_cloud`` package (``library_path()``).

``WEIGHTSTREAM_SOURCE_PLUGINS="scheme=/path/lib.so[,scheme=/path/lib.so]"``
adds schemes served by other plugin libraries (for plugin development).

``options`` -- per-call settings such as ``endpoint_url``, ``region``,
``ca_bundle``, ``anonymous`` -- are passed to the plugin as JSON; it rejects
unknown keys, naming them. They may hold secrets: they are never logged,
repr()ed or put in messages here.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from . import _native
from .errors import HTTPStatusError, PluginNotInstalledError

# Schemes served by weightstream-cloud, and the extra that installs it.
CLOUD_SCHEMES = {"http": "http", "https": "http", "s3": "s3", "gs": "gcs", "az": "azure"}
CLOUD_PACKAGE = "weightstream-cloud"
CLOUD_MODULE = "weightstream_cloud"
CLOUD_PLUGIN = "weightstream_cloud"  # lib<name>.so; WEIGHTSTREAM_CLOUD_LIBRARY
CLOUD_LIBRARY_ENV = "WEIGHTSTREAM_CLOUD_LIBRARY"
EXTRA_PLUGINS_ENV = "WEIGHTSTREAM_SOURCE_PLUGINS"

# Index files are small; anything larger is not one.
MAX_INDEX_BYTES = 64 << 20

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_lock = threading.Lock()
_plugins: dict[str, Any] = {}  # library path -> _native.SourcePlugin

Options = Mapping[str, Any]


def scheme_of(path: object) -> str | None:
    """The URL scheme of `path` (lower-case) if it is a URL weightstream reads
    through a plugin, else None (a local path)."""
    if not isinstance(path, str):
        return None
    m = _URL.match(path)
    if m is None:
        return None
    scheme = m.group(1).lower()
    if scheme in CLOUD_SCHEMES or scheme in _extra_plugins():
        return scheme
    return None


def is_url(path: object) -> bool:
    return scheme_of(path) is not None


_AUTHORITY = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)([^?#]*)")


def redact(url: str) -> str:
    """`url` without userinfo, query string or fragment (where signatures
    and tokens live), for messages."""
    m = _AUTHORITY.match(url)
    if m is None:
        return url.split("?", 1)[0].split("#", 1)[0]
    return m.group(1) + m.group(2).rsplit("@", 1)[-1] + m.group(3)


def split_query(url: str) -> tuple[str, str]:
    """(`url` up to its query string, the query string without '?'); any
    fragment is dropped."""
    url = url.split("#", 1)[0]
    base, _, query = url.partition("?")
    return base, query


def shown(path: str) -> str:
    """`path` as messages show it: URLs redacted, local paths as they are."""
    return redact(path) if is_url(path) else path


def options_json(options: Options | None) -> str:
    if options is None:
        return "{}"
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a dict of settings, got {type(options).__name__}")
    for key in options:
        if not isinstance(key, str):
            raise TypeError(f"options keys must be strings, got {type(key).__name__}")
    try:
        return json.dumps(dict(options))
    except (TypeError, ValueError):
        # Never echo the values: they may be secrets.
        raise TypeError(
            "options values must be JSON values (str, int, float, bool, None)"
        ) from None


def _extra_plugins() -> dict[str, str]:
    spec = os.environ.get(EXTRA_PLUGINS_ENV, "")
    out: dict[str, str] = {}
    for part in spec.split(","):
        if "=" in part:
            scheme, path = part.split("=", 1)
            out[scheme.strip().lower()] = path.strip()
    return out


def _install_hint(scheme: str) -> str:
    extra = CLOUD_SCHEMES.get(scheme, "cloud")
    return f"{scheme}:// URLs need the {CLOUD_PACKAGE} package: pip install 'weightstream[{extra}]'"


def _library_for(scheme: str) -> str:
    extra = _extra_plugins()
    if scheme in extra:
        return extra[scheme]
    override = os.environ.get(CLOUD_LIBRARY_ENV)
    if override:
        if not os.path.exists(override):
            raise PluginNotInstalledError(
                f"{_install_hint(scheme)} ({CLOUD_LIBRARY_ENV} is set to {override}, "
                "which does not exist)"
            )
        return override
    try:
        import weightstream_cloud  # noqa: PLC0415 - optional, found at run time
    except ImportError:
        raise PluginNotInstalledError(_install_hint(scheme)) from None
    path = weightstream_cloud.library_path()
    if not os.path.exists(path):
        raise PluginNotInstalledError(
            f"{_install_hint(scheme)} (the installed {CLOUD_MODULE} lacks its library "
            f"{os.path.basename(path)}; reinstall it)"
        )
    return path


def plugin_for(scheme: str) -> Any:
    """The loaded plugin serving `scheme` (a _native.SourcePlugin)."""
    path = _library_for(scheme)
    with _lock:
        plugin = _plugins.get(path)
        if plugin is None:
            try:
                plugin = _native.SourcePlugin(path)
            except (OSError, ValueError) as e:
                raise PluginNotInstalledError(
                    f"{scheme}:// URLs: cannot use the plugin library {path}: {e}"
                ) from None
            _plugins[path] = plugin
    if scheme not in plugin.schemes:
        raise PluginNotInstalledError(
            f"{scheme}:// URLs: the plugin {plugin.name} {plugin.version} at {path} serves "
            f"only {', '.join(s + '://' for s in plugin.schemes)}; upgrade it "
            f"(pip install -U {plugin.name})"
        )
    return plugin


def _with_url(e: HTTPStatusError, url: str) -> HTTPStatusError:
    if not e.url:
        e.url = redact(url)
    return e


def open_source(url: str, options: Options | None = None) -> Any:
    """Opens the object at `url` (a _native.Source).

    Raises PluginNotInstalledError, RemoteFileNotFoundError (404),
    RemotePermissionError (401/403), ReadError (network), ValueError (a bad
    URL or option).
    """
    scheme = scheme_of(url)
    if scheme is None:
        raise ValueError(f"{redact(url)}: not a URL weightstream can read")
    plugin = plugin_for(scheme)
    try:
        return plugin.open(url, options_json(options))
    except HTTPStatusError as e:
        raise _with_url(e, url) from None


def list_prefix(prefix: str, options: Options | None = None) -> list[tuple[str, int]]:
    """[(url, size)] of every object under `prefix` (a URL ending in '/')."""
    scheme = scheme_of(prefix)
    if scheme is None:
        raise ValueError(f"{redact(prefix)}: not a URL weightstream can read")
    plugin = plugin_for(scheme)
    try:
        return plugin.list(prefix, options_json(options))
    except HTTPStatusError as e:
        raise _with_url(e, prefix) from None


def read_small(url: str, options: Options | None = None, limit: int = MAX_INDEX_BYTES) -> bytes:
    """The whole object at `url`, which must be at most `limit` bytes."""
    source = open_source(url, options)
    if source.size > limit:
        raise ValueError(
            f"{source.name}: {source.size} bytes is too large for an index file "
            f"(limit {limit} bytes)"
        )
    return source.read(0, source.size)


def preferred_sizing(
    files: list[Any], concurrency: int | None, chunk_size: int | None
) -> tuple[int | None, int | None]:
    """Concurrency and chunk size for reading `files` (native files with
    preferred_* properties): the caller's choice where given, else the
    largest any file's source prefers (None: no preference)."""
    if concurrency is None:
        wanted = max((f.preferred_concurrency for f in files), default=0)
        concurrency = wanted or None
    if chunk_size is None:
        wanted = max((f.preferred_read_bytes for f in files), default=0)
        chunk_size = wanted or None
    return concurrency, chunk_size


__all__ = [
    "CLOUD_SCHEMES",
    "is_url",
    "list_prefix",
    "open_source",
    "options_json",
    "plugin_for",
    "preferred_sizing",
    "read_small",
    "redact",
    "scheme_of",
    "shown",
    "split_query",
]
