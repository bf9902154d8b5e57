"""Arguments and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from framescope.data import FORMATS, ReadOptions, Taxonomy, load_taxonomy

__all__ = ["add_error_args", "add_input_args", "errors_path", "positive_int", "read_options", "taxonomy_arg"]


def positive_int(value: str) -> int | str:
    """An argparse type: a whole number >= 1 (``1_000`` and ``1,000`` accepted)."""
    if value == argparse.SUPPRESS:  # train's config-file merge marks unset options this way
        return value
    try:
        number = int(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: give a positive number") from None
    return number


def add_input_args(p: argparse.ArgumentParser) -> None:
    """--format and column-mapping options."""
    g = p.add_argument_group("input format")
    g.add_argument("--format", default="auto", choices=FORMATS,
                   help="input format (default: detect from the name, layout or content)")
    g.add_argument("--text-column", default="text", help="column holding the text (default: text)")
    g.add_argument("--labels-column", default="labels", help="column holding labels (default: labels)")
    g.add_argument("--id-column", default="id", help="column holding the record id (default: id)")
    g.add_argument("--labels-sep", default=";", help="separator of labels in a text cell (default: ;)")
    g.add_argument("--max-record-chars", type=positive_int, default=50_000_000, metavar="N",
                   help="longest record text accepted, in characters (default 50,000,000; feeds, "
                        "which are parsed whole, at most this many bytes); a longer one is a bad "
                        "record")
    g.add_argument("--delimiter", default=None, metavar="CHAR",
                   help="CSV field delimiter, e.g. ';' (default: ',' for .csv, tab for .tsv; write "
                        "'\\t' for a tab)")


def add_error_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--on-error", choices=("stop", "skip"), default="stop",
                   help="stop: reject the run before writing anything (default); "
                        "skip: write bad records with reasons to an errors file and go on")
    p.add_argument("--errors", type=Path, default=None,
                   help="errors file for --on-error skip (default: beside the output)")


def read_options(args: argparse.Namespace, *, labels_required: bool = False) -> ReadOptions:
    delimiter = getattr(args, "delimiter", None)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    return ReadOptions(format=args.format, text_column=args.text_column,
                       labels_column=args.labels_column, id_column=args.id_column,
                       labels_sep=args.labels_sep, labels_required=labels_required,
                       delimiter=delimiter,
                       max_record_chars=getattr(args, "max_record_chars", 50_000_000))


def taxonomy_arg(value: str | None, *, default: Path | None = None) -> Taxonomy | str | None:
    """``--taxonomy`` value: a file, ``infer``, ``none``, or the default when not given."""
    if value is None:
        return load_taxonomy(default) if default else None
    if value in ("infer", "none"):
        return None if value == "none" else "infer"
    return load_taxonomy(value)  # a file, or a bundled name such as 'default'



def errors_path(args: argparse.Namespace, out: Path | None) -> Path:
    if args.errors is not None:
        return args.errors
    if out is not None:
        return out.with_name(out.name.split(".")[0] + ".errors.jsonl")
    return Path("errors.jsonl")


def progress(items, desc: str, unit: str = "record"):
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal)."""
    import sys

    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit=unit, disable=not sys.stderr.isatty(), mininterval=0.5)
