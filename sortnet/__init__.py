"""sortnet: compile sorting circuits into neural networks.

The public surface (see README.md): build networks with :func:`network`, import
them with :func:`load_network`, check them with :func:`verify`, run them with
:func:`sort`, compile them with :func:`compilers.compile`.

Importing :mod:`sortnet` loads the IR and its passes only (the modules every user of
the package needs, the compilers included). The runtimes (:mod:`sortnet.circuit`,
:mod:`sortnet.nn`) and the renderer (:mod:`sortnet.draw`) load on first use of one of
their names (PEP 562), so ``import compilers`` stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from sortnet._version import __version__
from sortnet.errors import InputError, InvalidNetworkError, NetworkFormatError, SortnetError
from sortnet.generators import list_families, network, selection_network
from sortnet.generators.counting import counting_network
from sortnet.generators.topk import topk_network
from sortnet.io import load_network, save_network
from sortnet.network import Network
from sortnet.select import select
from sortnet.verify import VerificationResult, verify

if TYPE_CHECKING:
    from sortnet.circuit.filters import rank_filter
    from sortnet.circuit.run import argsort, sort
    from sortnet.circuit.topk import topk
    from sortnet.draw import draw, save_drawing
    from sortnet.nn.model import CompiledModel, Layer, load_model
    from sortnet.nn.npz import ModelFormatError
    from sortnet.nn.soft import soft_permutation

#: Public names loaded on first use, and the module that defines each.
_LAZY = {
    "argsort": "sortnet.circuit.run",
    "sort": "sortnet.circuit.run",
    "rank_filter": "sortnet.circuit.filters",
    "topk": "sortnet.circuit.topk",
    "CompiledModel": "sortnet.nn.model",
    "Layer": "sortnet.nn.model",
    "ModelFormatError": "sortnet.nn.npz",
    "load_model": "sortnet.nn.model",
    "draw": "sortnet.draw",
    "save_drawing": "sortnet.draw",
    "soft_permutation": "sortnet.nn.soft",
}

__all__ = [
    "CompiledModel",
    "InputError",
    "InvalidNetworkError",
    "Layer",
    "ModelFormatError",
    "Network",
    "NetworkFormatError",
    "SortnetError",
    "VerificationResult",
    "argsort",
    "counting_network",
    "draw",
    "list_families",
    "load_model",
    "load_network",
    "network",
    "rank_filter",
    "save_drawing",
    "save_network",
    "select",
    "selection_network",
    "soft_permutation",
    "sort",
    "topk",
    "topk_network",
    "verify",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Load a lazy public name (or a subpackage such as ``sortnet.nn``) on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
