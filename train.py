"""``python train.py ...`` is ``framescope train ...`` (see ``framescope train --help``).

Runs unchanged under ``accelerate launch train.py ...`` or ``torchrun --nproc-per-node N train.py ...``.
"""

from __future__ import annotations

import sys

from framescope.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
