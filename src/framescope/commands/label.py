"""``framescope label``: the label loop. ``select`` picks the passages to label next and writes a
Label Studio, Argilla or CSV batch; ``import`` reads the annotations back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from framescope.commands.common import add_error_args, add_input_args, errors_path, positive_int, read_options

DESCRIPTION = """\
Pick the passages a model should have labelled next, from unlabelled inputs (anything
`framescope score` reads: RSS/Atom feeds, JSONL, CSV, Parquet, .txt folders), cut into paragraph
passages as `score` cuts them, and write them for annotators:
  .json   Label Studio tasks with the model's predictions as pre-annotations, and
          BATCH.label-config.xml (the labelling config, generated from the model's taxonomy);
  .jsonl  Argilla 2.x records with suggestions, and BATCH.argilla-settings.json;
  .csv    a spreadsheet: text, predictions, p_<label> scores and an empty labels column
          (annotators write "a; b" or "none"; `framescope label import` reads filled copies).
Strategies: uncertainty (nearest the model's thresholds, with a per-label quota so rare frames
get candidates), diversity (k-means on the model's embeddings), mixed (diverse among the
uncertain), random. Passages in --exclude files (same id, or the same text after Unicode NFC,
lower-casing and whitespace collapsing) and repeated texts are never selected.
"""

EPILOG = """\
examples:
  framescope label select --model models/default 'feeds/*.xml' --n 100 --strategy mixed \\
      --out labelling/batch-01.json
  framescope label select --model models/default feeds/ --n 200 --exclude data/labelled.jsonl \\
      --out batch-02.jsonl                       # Argilla records
  framescope label select --model models/default articles.csv --n 50 --strategy random --seed 7 \\
      --out sample.csv --on-error skip
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``label`` with its ``select`` and ``import`` subcommands."""
    p = sub.add_parser("label", help="active learning: select passages to label, import annotations",
                       description="The label loop: select passages to label next (Label Studio, "
                                   "Argilla, CSV), import the annotations back as training data.")
    label_sub = p.add_subparsers(dest="label_command", metavar="SUBCOMMAND", required=True)
    register_select(label_sub)
    try:
        from framescope.commands.label_import import register_import
    except ModuleNotFoundError as exc:
        if exc.name != "framescope.commands.label_import":
            raise
    else:
        register_import(label_sub)


def register_select(label_sub: argparse._SubParsersAction) -> None:
    """Add ``label select``."""
    from framescope.labelling.exports import FORMAT_SUFFIXES
    from framescope.labelling.strategies import STRATEGIES
    from framescope.runtime import PRECISIONS

    p = label_sub.add_parser("select", help="pick the passages to label next and write a batch",
                             description=DESCRIPTION, epilog=EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="feeds, JSONL/CSV/Parquet files, .txt folders or glob patterns")
    p.add_argument("--model", default="models/default", help="trained model folder (default: models/default)")
    p.add_argument("--n", type=positive_int, required=True, help="passages to select")
    p.add_argument("--strategy", choices=STRATEGIES, default="uncertainty",
                   help="uncertainty (default), diversity, mixed or random")
    p.add_argument("--out", type=Path, required=True,
                   help="batch file: .json (Label Studio), .jsonl (Argilla 2.x) or .csv")
    p.add_argument("--out-format", choices=tuple(FORMAT_SUFFIXES), default=None,
                   help="ls, argilla or csv (default: from the --out suffix); --format is the INPUT format")
    p.add_argument("--exclude", nargs="+", default=[], metavar="LABELLED",
                   help="labelled files (any readable format): their passages are never selected "
                        "again (matched by id and by normalised text)")
    p.add_argument("--seed", type=int, default=13, help="seed of random and of k-means (default 13)")
    p.add_argument("--quota", type=float, default=0.3,
                   help="fraction of --n shared round-robin over labels, rarest first, each taking "
                        "the passages nearest its threshold (uncertainty, mixed; default 0.3; 0 = off)")
    p.add_argument("--model-version", default=None, metavar="NAME",
                   help="name the predictions carry (default: model folder @ fingerprint)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="scoring precision, as in `framescope score` (embeddings are fp32)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="passages per forward pass (default 64)")
    p.add_argument("--max-tokens", type=positive_int, default=None,
                   help="passage budget in tokens (default: the model's max_length)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing batch")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_error_args(p)
    add_input_args(p)
    p.set_defaults(func=cmd_select)


def cmd_select(args: argparse.Namespace) -> int:
    """Run ``label select``; returns the exit code."""
    from framescope.labelling.exports import output_format
    from framescope.labelling.select import SelectConfig, select

    try:
        cfg = SelectConfig(
            n=args.n, strategy=args.strategy, seed=args.seed, quota=args.quota,
            output_format=args.out_format, exclude=args.exclude, model_version=args.model_version,
            on_error=args.on_error, errors_path=errors_path(args, args.out), precision=args.precision,
            batch_size=args.batch_size, max_tokens=args.max_tokens, overwrite=args.overwrite,
            progress=not args.quiet, read_options=read_options(args))
        output_format(args.out, args.out_format)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = select(args.model, args.inputs, args.out, cfg)
    print(summary.describe())
    return 0
