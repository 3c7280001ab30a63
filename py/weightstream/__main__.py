"""``python -m weightstream``: the command line (see weightstream.cli)."""

import sys

from .cli import main

sys.exit(main())
