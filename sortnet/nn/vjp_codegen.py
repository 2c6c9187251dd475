"""Straight-line reverse-mode kernels: one per model, for :mod:`sortnet.nn.vjp_numba`.

The model's program (:mod:`sortnet.nn.program`) written out as Python source, like
the forward kernels of :mod:`sortnet.nn.codegen`: rows in blocks of
:data:`BLOCK_ROWS` transposed into a private buffer, and one loop over the block's
rows holding every value in registers. The loop body is the forward pass (one
``lin`` per unit, its activation and ``act'(z)`` as a branch-free select), then
the backward sweep in reverse unit order (``g = act'(z) * adjoint``; each term
adds ``weight * g`` to the adjoint of the value it read), then ``dX``. A row whose
relu or abs unit has ``z == 0`` exactly is flagged (``tie = min(tie, |z|)`` is 0):
the caller redoes it on the numpy engine's tie rule. Compiling is the cost (relu,
float32, fresh process: 4.1 s for best n = 8, 12.4 s for n = 16; every value has a
variable of its own and conditionals are ``pick`` selects, without which numba's SSA
pass took 50 s at n = 16), so the generic kernel runs until this one is compiled.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from sortnet import _jit
from sortnet.nn.kernels import CACHE, compilable, fingerprint
from sortnet.nn.program import CODES, program

if TYPE_CHECKING:
    from sortnet.nn.model import CompiledModel

#: Rows per block (the vectorised loop's length).
BLOCK_ROWS = 64
#: Part of every kernel's name: a change to the generated code gets new cache entries.
VERSION = "2"


def vjp_source(model: CompiledModel, dtype: Any) -> str:
    """The source of ``kernel(X, dY, dX, tied)`` for ``model`` in ``dtype``.

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.Network.from_comparators(2, [(0, 1)]), "relu")
    >>> "def kernel(X, dY, dX, tied):" in vjp_source(model, np.float32)
    True
    """
    dtype = np.dtype(dtype)
    p = program(model, dtype)
    constants: dict[float, str] = {}

    def const(value: float) -> str:
        return constants.setdefault(float(value), f"k{len(constants)}")

    zero, one = const(0.0), const(1.0)
    n, outputs, rows = model.n, model.n_outputs, BLOCK_ROWS
    current = {w: f"x{w}" for w in range(n)}  # buffer row -> the value it holds now
    forward, reads = [], []
    derivative: dict[int, str | None] = {}  # None: act' = 1; "": act' = 0
    # No variable is assigned twice (numba rebuilds SSA form for one that is, scanning
    # the block once per redefinition: 50 s to compile best n = 16 that way).
    ties = 0  # tie{ties} is the running minimum of |z| over the kinked units so far
    for u, (target, first, stop, code) in enumerate(p.units.tolist()):
        pairs = [
            part
            for t in range(first, stop)
            for part in (current[int(p.terms[t])], const(p.weights[t]))
        ]
        read = [(current[int(p.terms[t])], const(p.weights[t])) for t in range(first, stop)]
        z = f"z{u}"
        total = f"lin({', '.join(pairs)})" if pairs else zero
        if p.biased[u]:
            total = f"{total} + {const(p.bias[u])}"
        forward.append(f"{z} = {total}")
        name = CODES[code]
        h = f"h{u}"
        if name == "identity":
            forward.append(f"{h} = {z}")
            derivative[u] = None
        elif name in ("abs", "relu"):
            forward.append(f"{h} = abs({z})" if name == "abs" else f"{h} = max({z}, {zero})")
            forward.append(f"tie{ties + 1} = min(tie{ties}, abs({z}))")
            ties += 1
            minus = f"-{one}" if name == "abs" else zero
            forward.append(f"d{u} = pick({z} > {zero}, {one}, {minus})")
            derivative[u] = f"d{u}"
        elif name == "softplus":
            forward.append(f"e{u} = np.exp(-abs({z}))")
            forward.append(f"{h} = max({z}, {zero}) + np.log1p(e{u})")
            forward.append(f"d{u} = pick({z} >= {zero}, {one}, e{u}) / ({one} + e{u})")
            derivative[u] = f"d{u}"
        else:  # step, indicator: derivative 0
            test = f"{z} >= {zero}" if name == "step" else f"abs({z}) <= {one}"
            forward.append(f"{h} = pick({test}, {one}, {zero})")
            derivative[u] = ""
        reads.append(read)
        current[int(target)] = h
    adjoint: dict[str, str] = {}  # value -> its adjoint's variable, once it has one
    backward = []
    for index, row in enumerate(p.outputs.tolist()):
        adjoint[current[int(row)]] = f"a_{current[int(row)]}"
        backward.append(f"a_{current[int(row)]} = S[{(n + index) * rows} + r]")
    for u in range(len(reads) - 1, -1, -1):
        d = derivative[u]
        if f"h{u}" not in adjoint or d == "":
            continue
        g = adjoint[f"h{u}"] if d is None else f"g{u}"
        if d is not None:
            backward.append(f"{g} = {adjoint[f'h{u}']} * {d}")
        for source, weight in reads[u]:
            product = f"{g} * {weight}"
            if source in adjoint:
                total = f"a{len(backward)}_{source}"
                backward.append(f"{total} = {adjoint[source]} + {product}")
                adjoint[source] = total
            else:
                adjoint[source] = f"a_{source}"
                backward.append(f"a_{source} = {product}")
    ind = " " * 12
    grad = [adjoint.get(f"x{w}", zero) for w in range(n)]
    tie_row = (n + outputs) * rows
    body = [
        "    count = X.shape[0]",
        f"    S = np.zeros({(n + outputs + 1) * rows}, X.dtype)",
        f"    for r0 in range(0, count, {rows}):",
        f"        m = min({rows}, count - r0)",
        "        for r in range(m):",
        *[f"{ind}S[{w * rows} + r] = X[r0 + r, {w}]" for w in range(n)],
        *[f"{ind}S[{(n + q) * rows} + r] = dY[r0 + r, {q}]" for q in range(outputs)],
        f"        for r in range({rows}):",
        f"{ind}tie0 = {one}",
        *[f"{ind}x{w} = S[{w * rows} + r]" for w in range(n)],
        *[ind + line for line in forward + backward],
        *[f"{ind}S[{w * rows} + r] = {name}" for w, name in enumerate(grad)],
        f"{ind}S[{tie_row} + r] = tie{ties}",
        "        for r in range(m):",
        *[f"{ind}dX[r0 + r, {w}] = S[{w * rows} + r]" for w in range(n)],
        f"{ind}if S[{tie_row} + r] == {zero}:",
        f"{ind}    tied[r0 + r] = True",
    ]
    header = (
        f"# Generated by sortnet.nn.vjp_codegen (version {VERSION}): n={n} -> {outputs}, "
        f"{dtype.name}. Do not edit.\n"
        "import numpy as np\nfrom numba import njit\n\n"
        "from sortnet.nn.intrinsics import lin, pick\n\n\n"
        "@njit(cache=True, boundscheck=False, nogil=True)\n"
        "def kernel(X, dY, dX, tied):\n"
    )
    typed = [f"    {name} = np.{dtype.name}({value!r})" for value, name in constants.items()]
    return header + "\n".join(typed + body) + "\n"


def _stem(model: CompiledModel, dtype: np.dtype) -> str:
    return f"sortnet_vjp{VERSION}_{fingerprint(model, dtype)}"


def get_vjp_kernel(model: CompiledModel, dtype: Any) -> Any:
    """The compiled straight-line kernel ``kernel(X, dY, dX, tied)`` (compiles on first use).

    Examples
    --------
    >>> import compilers, sortnet
    >>> model = compilers.compile(sortnet.network("bubble", 2), "relu")
    >>> X = np.array([[3.0, 1.0]]); dX = np.empty_like(X)
    >>> get_vjp_kernel(model, X.dtype)(X, np.array([[1.0, 0.0]]), dX, np.zeros(1, bool)); dX
    array([[0., 1.]])
    """
    dtype = np.dtype(dtype)
    stem = _stem(model, dtype)
    with CACHE.lock:
        found = CACHE.lookup(("vjp", stem))
    if found is not None:
        return found
    source = vjp_source(model, dtype)
    warm = (np.zeros((1, model.n), dtype), np.zeros((1, model.n_outputs), dtype))
    kernel = _jit.compile_cached(
        stem,
        lambda fresh: _jit.import_generated(source, stem).kernel,
        warm[0],
        warm[1],
        np.zeros((1, model.n), dtype),
        np.zeros(1, np.bool_),
    )
    with CACHE.lock:
        if ("vjp", stem) not in CACHE:
            CACHE.store(("vjp", stem), kernel)
    return kernel


def ready_kernel(model: CompiledModel, dtype: Any) -> Any | None:
    """The straight-line kernel if it is compiled (here or on disk), else None.

    Examples
    --------
    >>> import compilers, sortnet
    >>> ready_kernel(compilers.compile(sortnet.network("bubble", 2), "relu"), "f8") is not None
    True
    """
    dtype = np.dtype(dtype)
    if not compilable(model):
        return None
    stem = _stem(model, dtype)
    if ("vjp", stem) in CACHE or _jit.on_disk(stem):
        return get_vjp_kernel(model, dtype)
    return None


_pending: set[str] = set()


def compile_in_background(model: CompiledModel, dtype: Any) -> None:
    """Start compiling the straight-line kernel on a daemon thread (once; errors dropped)."""
    dtype = np.dtype(dtype)
    stem = _stem(model, dtype)
    with CACHE.lock:
        if stem in _pending or ("vjp", stem) in CACHE or not compilable(model):
            return
        _pending.add(stem)

    def work() -> None:
        try:
            get_vjp_kernel(model, dtype)
        except Exception:  # noqa: BLE001 - the generic kernel keeps running
            pass
        finally:
            with CACHE.lock:
                _pending.discard(stem)

    threading.Thread(target=work, name="sortnet-vjp-compile", daemon=True).start()
