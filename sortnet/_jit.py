"""The one JIT layer under both runtimes: numba, back-end choice, disk cache, kernel caches.

The circuit runtime (:mod:`sortnet.circuit`) and the neural runtime (:mod:`sortnet.nn`)
both write a network or a model out as a small generated Python module (its
comparators or weights as literals, one intrinsic emitting the straight-line LLVM IR)
and let numba compile it. Everything they share about that lives here, once:

* whether numba is installed (:func:`numba_available`);
* which back end runs (:func:`choose_backend`): an explicit argument, else the one
  environment variable ``SORTNET_KERNEL`` (``auto``, ``numba`` or ``numpy``), else
  ``auto``; in ``auto`` mode a kernel not yet compiled is compiled only for batches of
  at least :data:`AUTO_MIN_ELEMENTS` values (compiling takes seconds, more with size),
  while a kernel already compiled in this process or cached on disk is always used;
* the disk cache (:func:`cache_dir`, :func:`import_generated`, :func:`on_disk`): numba's
  ``cache=True`` keys machine code on a real file, so generated source is written
  there and imported, and a network or model is compiled once per machine;
* the in-memory kernel caches (:class:`KernelCache`), one per runtime, and
  :func:`cache_info` / :func:`clear_cache` over all of them;
* compiling in the background (:func:`in_background`, :func:`wait_for_background`):
  a faster kernel compiles on a daemon thread while a precompiled one serves calls.

This module imports nothing of sortnet but :mod:`sortnet.errors` (ARCHITECTURE.md,
"Import rules").
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sortnet.errors import SortnetError

__all__ = [
    "AUTO_MIN_ELEMENTS",
    "BACKENDS",
    "ENV_BACKEND",
    "ENV_CACHE_DIR",
    "Kernel",
    "KernelCache",
    "cache_dir",
    "cache_info",
    "choose_backend",
    "clear_cache",
    "compile_cached",
    "import_generated",
    "in_background",
    "numba_available",
    "on_disk",
    "requested_backend",
    "tile_lanes",
    "wait_for_background",
]

ENV_BACKEND = "SORTNET_KERNEL"
ENV_CACHE_DIR = "SORTNET_CACHE_DIR"
BACKENDS = ("auto", "numba", "numpy")
#: In ``auto`` mode, compile a not-yet-cached kernel only for batches this large.
AUTO_MIN_ELEMENTS = 1 << 22

#: A compiled kernel: ``kernel(X, Y)`` fills ``Y`` from ``X``.
Kernel = Callable[[np.ndarray, np.ndarray], None]


def numba_available() -> bool:
    """Whether numba can be imported (the ``fast`` extra).

    Examples
    --------
    >>> isinstance(numba_available(), bool)
    True
    """
    return importlib.util.find_spec("numba") is not None


def requested_backend(backend: str | None = None) -> str:
    """The back end asked for: ``backend``, else ``$SORTNET_KERNEL``, else ``"auto"``.

    Only the name is checked (:func:`choose_backend` also checks that numba is there).

    Examples
    --------
    >>> requested_backend(" Auto ")
    'auto'
    """
    chosen = backend if backend is not None else os.environ.get(ENV_BACKEND, "") or "auto"
    chosen = str(chosen).strip().lower()
    if chosen not in BACKENDS:
        where = "" if backend is not None else f" (from ${ENV_BACKEND})"
        raise SortnetError(
            f"unknown kernel back end {chosen!r}{where}; choose {', '.join(BACKENDS[:-1])} "
            f"or {BACKENDS[-1]}"
        )
    return chosen


def choose_backend(backend: str | None = None) -> str:
    """The back end to use: ``backend``, else ``$SORTNET_KERNEL``, else ``"auto"``.

    ``"numba"`` is refused when numba is not installed; ``"auto"`` silently means
    ``"numpy"`` then.

    Examples
    --------
    >>> choose_backend("numpy")
    'numpy'
    >>> choose_backend("fast")
    Traceback (most recent call last):
    ...
    sortnet.errors.SortnetError: unknown kernel back end 'fast'; choose auto, numba or numpy
    """
    chosen = requested_backend(backend)
    if chosen == "numba" and not numba_available():
        raise SortnetError(
            "the numba back end needs numba, which is not installed (pip install numba)"
        )
    if chosen == "auto" and not numba_available():
        return "numpy"
    return chosen


def cache_dir() -> Path:
    """Where generated kernel sources (and numba's cached machine code) live.

    ``$SORTNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/sortnet/kernels``, else
    ``~/.cache/sortnet/kernels``.

    Examples
    --------
    >>> cache_dir().name in ("kernels", os.environ.get(ENV_CACHE_DIR, "kernels").split("/")[-1])
    True
    """
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sortnet" / "kernels"


def import_generated(source: str, stem: str) -> Any:
    """Write generated ``source`` to ``cache_dir() / (stem + ".py")`` once and import it.

    numba's ``cache=True`` keys its machine code on a real file, so generated
    kernels (circuit and model kernels alike) live as modules in :func:`cache_dir`.
    The write goes to a temp file then a rename, since another process may be
    importing the same file; an unwritable cache directory costs the disk cache
    only (the module then goes to a fresh temporary folder), not correctness.
    """
    path = cache_dir() / f"{stem}.py"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Bytes, not text: a damaged file need not even be valid UTF-8.
        existing = path.read_bytes() if path.exists() else None
        if existing != source.encode():
            if existing is not None:  # the name hashes what the source is made from
                warnings.warn(
                    f"sortnet kernel cache entry {path} does not hold the source its name "
                    "promises (damaged, or written by another sortnet version); rewriting it",
                    RuntimeWarning,
                    stacklevel=2,
                )
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as handle:
                handle.write(source)
            os.replace(tmp, path)
    except OSError:
        path = Path(tempfile.mkdtemp(prefix="sortnet-kernels-")) / path.name
        path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def compile_cached(
    stem: str, load: Callable[[bool], Callable[..., None]], *args: np.ndarray
) -> Callable[..., None]:
    """``load(False)``, then run the kernel once on ``args`` so numba compiles it or loads it.

    numba unpickles its disk cache (``__pycache__/<stem>.*.nbi`` index, ``.nbc`` code)
    without catching errors, so one truncated file would break every later call. A
    failure while cache files of ``stem`` exist is taken for a damaged entry: its
    files are deleted, a ``RuntimeWarning`` names it, and ``load(True)`` (a fresh
    import, so fresh dispatchers) compiles it again. Without cache files the error
    is a real one and propagates.

    Parameters
    ----------
    stem : str
        The generated module's name (its file is ``cache_dir() / (stem + ".py")``).
    load : callable
        ``load(fresh)`` returns the kernel function; ``fresh=True`` must re-import.
    *args : numpy.ndarray
        Arguments of the warm-up call.

    Returns
    -------
    callable
        The compiled kernel.

    Examples
    --------
    >>> seen = []  # a stand-in kernel that records its warm-up call
    >>> kernel = compile_cached("sortnet_doc_example", lambda fresh: seen.append, np.zeros(2))
    >>> seen
    [array([0., 0.])]
    """
    kernel = load(False)
    try:
        kernel(*args)
    except Exception as error:  # numba lets whatever unpickling raised escape
        removed = _discard_entry(stem, kernel)
        if not removed:
            raise
        warnings.warn(
            f"sortnet kernel cache entry {stem} could not be loaded "
            f"({type(error).__name__}: {error}); deleted {', '.join(removed)} and recompiling",
            RuntimeWarning,
            stacklevel=3,
        )
        kernel = load(True)
        kernel(*args)
    return kernel


def _discard_entry(stem: str, kernel: Any) -> list[str]:
    """Delete numba's cache files of module ``stem``; the names of those deleted."""
    folders = {cache_dir() / "__pycache__"}
    where = getattr(getattr(kernel, "_cache", None), "_cache_path", None)
    if isinstance(where, str):  # numba may cache elsewhere ($NUMBA_CACHE_DIR)
        folders.add(Path(where))
    removed = []
    for folder in folders:
        for path in sorted(folder.glob(f"{stem}.*")):
            if path.suffix in (".nbi", ".nbc"):
                try:
                    path.unlink()
                except OSError:
                    continue
                removed.append(path.name)
    return removed


def on_disk(stem: str) -> bool:
    """Whether numba has cached machine code for the generated module ``stem``.

    Examples
    --------
    >>> on_disk("sortnet_no_such_kernel")
    False
    """
    return any((cache_dir() / "__pycache__").glob(f"{stem}.*.nbi"))


class KernelCache:
    """One runtime's in-memory kernels, with hit and miss counters.

    Parameters
    ----------
    name : str
        The runtime's name in :func:`cache_info` (``"circuit"``, ``"nn"``).
    also_clear : iterable of objects with a ``clear()`` method
        Side tables of the runtime (imported modules, per-model lookups) that
        :meth:`clear` empties with the kernels.

    Examples
    --------
    >>> cache = KernelCache("example")
    >>> cache.lookup("k") is None, cache.store("k", len), cache.lookup("k")
    (True, None, <built-in function len>)
    >>> cache.info()
    {'hits': 1, 'misses': 1, 'kernels': 1}
    >>> _CACHES.remove(cache)
    """

    def __init__(self, name: str, also_clear: Iterable[Any] = ()) -> None:
        self.name = name
        #: Guards the tables, and serialises launches into numba's thread pool.
        self.lock = threading.Lock()
        self._kernels: dict[Hashable, Any] = {}
        self._also_clear = list(also_clear)
        self._stats = {"hits": 0, "misses": 0}
        _CACHES.append(self)

    def lookup(self, key: Hashable) -> Any:
        """The kernel stored under ``key`` (a hit), else None (no count: see :meth:`store`)."""
        kernel = self._kernels.get(key)
        if kernel is not None:
            self._stats["hits"] += 1
        return kernel

    def store(self, key: Hashable, kernel: Any) -> None:
        """Keep a kernel just compiled or loaded from disk (a miss)."""
        self._stats["misses"] += 1
        self._kernels[key] = kernel

    def hit(self) -> None:
        """Count a hit served from a runtime's side table."""
        self._stats["hits"] += 1

    def __iter__(self) -> Iterator[Hashable]:
        """The keys of the kernels held now."""
        return iter(list(self._kernels))

    def __contains__(self, key: Hashable) -> bool:
        return key in self._kernels

    def info(self) -> dict[str, int]:
        """Counters: ``hits``, ``misses`` (compilations or disk loads), ``kernels``."""
        with self.lock:
            return {**self._stats, "kernels": len(self._kernels)}

    def clear(self) -> None:
        """Forget the in-memory kernels (files on disk stay; see :func:`cache_dir`)."""
        with self.lock:
            self._kernels.clear()
            for table in self._also_clear:
                table.clear()
            self._stats.update(hits=0, misses=0)


_CACHES: list[KernelCache] = []


def cache_info() -> dict[str, dict[str, int]]:
    """The counters of every runtime's kernel cache, by runtime name.

    Examples
    --------
    >>> all(sorted(info) == ["hits", "kernels", "misses"] for info in cache_info().values())
    True
    """
    return {cache.name: cache.info() for cache in _CACHES}


def clear_cache() -> None:
    """Forget every runtime's in-memory kernels (files on disk stay).

    Examples
    --------
    >>> clear_cache(); sum(info["kernels"] for info in cache_info().values())
    0
    """
    for cache in _CACHES:
        cache.clear()


#: LLVM function attribute: vectorise with the CPU's widest registers. LLVM's tuning for
#: most Intel cores with AVX-512 (and for the model name a KVM guest of a recent Xeon
#: reports) caps vectors at 256 bits. Measured there, 1M rows: the models' straight-line
#: kernels 1.2-1.3x faster with it, the circuit's tiles kernels 1.1x; the circuit's rows
#: and columns kernels and the generic kernel 1.15-1.25x slower (float64 n = 32, bitonic
#: n = 128, best n = 64), so only the first two set it. On a CPU without AVX-512 the
#: attribute changes nothing.
WIDE_VECTORS = '"prefer-vector-width"="512"'


def tile_lanes(n: int, itemsize: int) -> int:
    """Rows per tile: the largest power of two dividing ``n`` that fits 64 bytes (max 16).

    Examples
    --------
    >>> tile_lanes(16, 4), tile_lanes(32, 8), tile_lanes(12, 4), tile_lanes(7, 4)
    (16, 8, 4, 1)
    """
    lanes = min(16, max(1, 64 // itemsize))
    while lanes > 1 and n % lanes:
        lanes //= 2
    return lanes


def prefer_wide_vectors(function: Any) -> None:
    """Mark an llvmlite ``ir.Function`` (an intrinsic's ``builder.function``): :data:`WIDE_VECTORS`.

    llvmlite checks function attributes against a list of flags that has no key-value
    attributes, so the attribute goes into its set directly; LLVM reads it from the
    module text.

    Examples
    --------
    >>> class Function:
    ...     attributes: set[str] = set()
    >>> f = Function(); prefer_wide_vectors(f); sorted(f.attributes)
    ['"prefer-vector-width"="512"']
    """
    set.add(function.attributes, WIDE_VECTORS)


_pending: dict[Hashable, threading.Thread] = {}
_failed: set[Hashable] = set()
_pending_lock = threading.Lock()


def _finish_before_fork() -> None:
    # A child forked while a kernel compiles would inherit numba's compiler lock (and
    # sortnet's kernel-cache lock) held by a thread it does not have, and hang on its
    # first compile or cached kernel (seen: a fork Pool after a large sortnet.sort).
    # So a fork waits for the compiles in flight (seconds; 20 s at most measured).
    wait_for_background()


def _forget_background_in_child() -> None:
    global _pending_lock
    _pending_lock = threading.Lock()
    _pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_before_fork, after_in_child=_forget_background_in_child)


def in_background(key: Hashable, compile_kernel: Callable[[], Any]) -> None:
    """Run ``compile_kernel()`` on a daemon thread, once per ``key`` at a time (errors dropped).

    The caller keeps running another kernel meanwhile, and checks for the compiled one
    (in memory or on disk) on later calls. A compile that fails is not started again
    in this process. ``os.fork`` (a ``fork`` multiprocessing
    pool) waits for these compiles to finish first: a child forked in the middle of
    one would inherit locks held by a thread it does not have.

    Examples
    --------
    >>> in_background("doc example", lambda: None); wait_for_background()
    True
    """

    def work() -> None:
        try:
            compile_kernel()
        except Exception:  # noqa: BLE001 - the kernel already running keeps serving
            with _pending_lock:
                _failed.add(key)  # not tried again in this process
        finally:
            with _pending_lock:
                _pending.pop(key, None)

    with _pending_lock:
        if key in _pending or key in _failed:
            return
        thread = _pending[key] = threading.Thread(target=work, name="sortnet-compile", daemon=True)
        thread.start()


def wait_for_background(timeout: float | None = None) -> bool:
    """Wait for the kernels compiling in the background; whether none is left.

    Examples
    --------
    >>> wait_for_background(timeout=0.0) in (True, False)
    True
    """
    with _pending_lock:
        threads = list(_pending.values())
    for thread in threads:
        thread.join(timeout)
    with _pending_lock:
        return not _pending


def background_pending() -> bool:
    """Whether a kernel is compiling in the background now.

    Examples
    --------
    >>> wait_for_background(); background_pending()
    True
    False
    """
    with _pending_lock:
        return bool(_pending)
