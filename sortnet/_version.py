"""The package version, in a module of its own so any module can read it without a cycle.

``pyproject.toml`` reads it statically (``[tool.setuptools.dynamic]``); the package root
re-exports it as ``sortnet.__version__``.
"""

__version__ = "0.1.0"
