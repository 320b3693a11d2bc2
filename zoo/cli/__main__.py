"""``python -m zoo.cli``: the ``zoo`` command (``python -m zoo`` is the same)."""

import sys

from zoo.cli import main

sys.exit(main())
