"""``python -m sortnet``: the command line (same as the ``sortnet`` script)."""

from sortnet.cli import main

raise SystemExit(main())
