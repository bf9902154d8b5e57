"""Where the bundled data lives: the taxonomies, the seed dataset and the sample feeds.

In an installed wheel they are package data (``framescope/data/bundled/``, copied from the
repository's ``data/`` folder when the wheel is built, see ``setup.py``); in a source checkout
(an editable install) they are read from ``data/`` directly, so there is one copy of each file.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLED_PARTS", "bundled", "bundled_dir"]

#: The folders of ``data/`` that ship inside the package.
BUNDLED_PARTS = ("taxonomies", "seed", "samples")

_PACKAGE_DIR = Path(__file__).resolve().parent / "bundled"
_CHECKOUT_DIR = Path(__file__).resolve().parents[3] / "data"


def bundled_dir() -> Path:
    """The folder holding ``taxonomies/``, ``seed/`` and ``samples/``."""
    if (_PACKAGE_DIR / "taxonomies").is_dir():
        return _PACKAGE_DIR
    return _CHECKOUT_DIR


def bundled(*parts: str) -> Path:
    """A path inside the bundled data, e.g. ``bundled("seed", "train.jsonl")``."""
    return bundled_dir().joinpath(*parts)
