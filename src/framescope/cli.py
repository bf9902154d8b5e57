"""The ``framescope`` command line: thin subcommands that parse, call, print and exit.

Each subcommand lives in :mod:`framescope.commands` and imports heavy libraries only when run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from framescope import __version__

SUBCOMMANDS = ("data", "train", "thresholds", "fuse", "evaluate", "score", "report", "serve", "label")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every subcommand registered)."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="framescope",
        description="Score news passages for framing: train, evaluate, score feeds, report.",
    )
    parser.add_argument("--version", action="version", version=f"framescope {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"framescope.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"framescope.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``framescope`` console script; returns the exit code."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = ["framescope", *(sys.argv[1:] if argv is None else list(argv))]
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from framescope.data.errors import DataError

    try:
        return int(args.func(args) or 0)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
