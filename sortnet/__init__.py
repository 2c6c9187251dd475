"""sortnet: compile sorting circuits into neural networks.

The public surface (see README.md): build networks with :func:`network`, import
them with :func:`load_network`, check them with :func:`verify`, run them with
:func:`sort`, compile them with :func:`compilers.compile`.
"""

from __future__ import annotations

from sortnet.circuit import argsort, sort
from sortnet.counting import counting_network
from sortnet.draw import draw, save_drawing
from sortnet.errors import InputError, InvalidNetworkError, NetworkFormatError, SortnetError
from sortnet.generators import list_families, network, selection_network
from sortnet.io import load_network, save_network
from sortnet.model import CompiledModel, Layer
from sortnet.model_io import ModelFormatError, load_model
from sortnet.network import Network
from sortnet.select import select
from sortnet.soft import soft_permutation
from sortnet.verify import VerificationResult, verify

__version__ = "0.1.0"

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
    "save_drawing",
    "save_network",
    "select",
    "selection_network",
    "soft_permutation",
    "sort",
    "verify",
    "__version__",
]
