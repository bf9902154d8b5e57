"""``python evaluate.py ...`` is ``framescope evaluate ...`` (see ``framescope evaluate --help``)."""

from __future__ import annotations

import sys

from framescope.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
