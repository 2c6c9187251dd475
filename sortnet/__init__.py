"""sortnet: compile sorting circuits into neural networks.

The public surface (see README.md): build networks with :func:`network`, import
them with :func:`load_network`, check them with :func:`verify`, run them with
:func:`sort`, compile them with :func:`compilers.compile`.
"""

from __future__ import annotations

from sortnet.errors import InputError, InvalidNetworkError, NetworkFormatError, SortnetError
from sortnet.network import Network

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "InvalidNetworkError",
    "Network",
    "NetworkFormatError",
    "SortnetError",
    "__version__",
]
