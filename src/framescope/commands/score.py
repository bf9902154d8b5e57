"""``framescope score``: batch-score news inputs with a trained model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from framescope.commands.common import add_input_args, read_options

DESCRIPTION = """\
Score news inputs (RSS/Atom feeds, JSONL, CSV, Parquet, folders of .txt articles; many files or
globs) with a trained model, streaming in constant memory. Articles are split into passages that
fit the model. Passage rows hold id, article_id, index, start, end, text, scores (every label),
labels (over their thresholds), title, outlet, published, url and model; --level article/both
adds article rows (scores aggregated over passages, labels, best passage per label).

Runs are crash-safe: a killed run continues with --resume and produces exactly the output an
uninterrupted run would. An existing output is only replaced with --overwrite, and only once the
new one is complete.
"""

EPILOG = """\
examples:
  framescope score --model models/default data/samples/feed.xml data/samples/articles.jsonl \\
      --out reports/sample/scores.jsonl --level both --evidence
  framescope score --model models/default 'feeds/*.xml' --out scores.parquet --on-error skip
  framescope score ... --resume            # continue after a crash or Ctrl-C
  RAY_ADDRESS=auto framescope score ... --engine ray   # on a running Ray cluster

--level both writes OUT and OUT with .articles before the suffix (scores.articles.jsonl).
"""


def register(sub: argparse._SubParsersAction) -> None:
    from framescope.inference import COMBINE_RULES
    from framescope.runtime import PRECISIONS
    from framescope.scored import LEVELS, OUTPUT_FORMATS
    from framescope.scoring import ENGINES

    p = sub.add_parser("score", help="batch-score feeds and article files with a trained model",
                       description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="feeds, JSONL/CSV/Parquet files, .txt folders or glob patterns")
    p.add_argument("--model", default="models/default",
                   help="trained model folder (default: models/default)")
    p.add_argument("--out", type=Path, required=True,
                   help="output file: .jsonl, .csv or .parquet")
    p.add_argument("--out-format", choices=OUTPUT_FORMATS, default=None,
                   help="output format (default: from the --out suffix); --format is the INPUT format")
    p.add_argument("--level", choices=LEVELS, default="passage",
                   help="passage rows, article rows, or both (OUT and OUT.articles); default passage")
    p.add_argument("--aggregate", choices=COMBINE_RULES, default=None,
                   help="article score from passage scores: max, noisy-or = 1-Π(1-p) or mean "
                        "(default: the model's rule: the one a train --record-loss noisy-or|mean "
                        "model was trained on, else max for multi-label models, mean for "
                        "single-label ones)")
    p.add_argument("--evidence", action="store_true",
                   help="add evidence spans for each predicted label (occlusion: the measured drop "
                        "in the label's probability when a word or phrase is masked; slower)")
    p.add_argument("--evidence-top-k", type=int, default=5, metavar="K",
                   help="evidence spans per label (default 5)")
    p.add_argument("--evidence-units", type=int, default=32, metavar="N",
                   help="most words or word groups masked per passage (default 32); each costs "
                        "about one forward pass, longer passages are masked in groups of words")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto (default: bf16 on CPUs with native bf16, else fp32), fp32, bf16, "
                        "int8 (dynamic quantisation, approximate) or onnx (ONNX Runtime)")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local (default) or ray (Ray Data; a local instance, or the cluster in "
                        "RAY_ADDRESS)")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray actors (default: one per CPU of the Ray instance)")
    resume = p.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="continue an interrupted run of the same command (exactly-once output)")
    resume.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs and discard an interrupted run")
    p.add_argument("--on-error", choices=("stop", "skip"), default="stop",
                   help="stop: check every input first and write nothing if a record is bad "
                        "(default); skip: write bad records with reasons to an errors file and go on")
    p.add_argument("--errors", type=Path, default=None,
                   help="errors file for --on-error skip (default: OUT-stem.errors.jsonl beside OUT)")
    tune = p.add_argument_group("performance")
    tune.add_argument("--batch-size", type=int, default=64, help="passages per forward pass (default 64)")
    tune.add_argument("--chunk-size", type=int, default=None,
                      help="passages per committed chunk, the unit of --resume and of the progress "
                           "bar (default 1024; 128 with --evidence)")
    tune.add_argument("--max-tokens", type=int, default=None,
                      help="passage budget in tokens (default: the model's max_length)")
    tune.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_input_args(p)
    p.set_defaults(func=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    from framescope.runtime import precision_note
    from framescope.scoring import ScoreConfig, score

    try:
        cfg = ScoreConfig(
            level=args.level, output_format=args.out_format, aggregate=args.aggregate,
            evidence=args.evidence, evidence_top_k=args.evidence_top_k,
            evidence_units=args.evidence_units, precision=args.precision,
            engine=args.engine, workers=args.workers, on_error=args.on_error,
            errors_path=args.errors, batch_size=args.batch_size, chunk_size=args.chunk_size,
            max_tokens=args.max_tokens, threads=args.threads, resume=args.resume,
            overwrite=args.overwrite, progress=not args.quiet, read_options=read_options(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"precision: {precision_note(args.precision)}", file=sys.stderr)
    try:
        summary = score(args.model, args.inputs, args.out, cfg)
    except KeyboardInterrupt:
        print(f"interrupted; continue with the same command plus --resume (progress is kept "
              f"beside {args.out})", file=sys.stderr)
        return 130
    print(summary.describe())
    return 0
