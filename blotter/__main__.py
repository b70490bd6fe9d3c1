"""``python -m blotter``: the same as the ``blotter`` command."""

import sys

from blotter.cli import main

sys.exit(main())
