"""``python -m multilevel``: the same as the ``multilevel`` command."""
from __future__ import annotations

import sys

from multilevel.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
