"""``framescope fuse``: fuse a trained model's record scores with a TF-IDF model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Fit a TF-IDF + logistic-regression model on a trained model's own training data and fuse it with
the model's record (article) scores: score = w * model + (1 - w) * TF-IDF. The weight w and then
per-label thresholds are chosen on the model's recorded dev data (or --dev), never on data the
network was trained on; w = 1 keeps the network alone. The network is unchanged; the TF-IDF model
is stored beside it as safetensors and JSON (nothing is pickled).

The fusion applies wherever a whole record's text is scored: evaluate, article rows of score and
serve, and framescope.inference.predict. Passage rows and evidence spans stay the network's own.
It helps where labels belong to whole articles (on SemEval-2023 frames it lifted micro-F1 above
both parts, see bench/RESULTS.md); on passage labels it may choose w = 1.
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fuse`` subcommand."""
    p = sub.add_parser("fuse", help="fuse a model's article scores with a TF-IDF model (no retraining)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  framescope fuse --model models/frames --out models/frames-fused")
    p.add_argument("--model", type=Path, default=Path("models/default"), help="trained model folder")
    p.add_argument("--out", type=Path, required=True, help="the new model folder (written atomically)")
    p.add_argument("--train", nargs="+", default=[], metavar="PATH",
                   help="labelled data for the TF-IDF model (default: the model's recorded training data)")
    p.add_argument("--dev", nargs="+", default=[], metavar="PATH",
                   help="labelled data to choose the weight and thresholds on (default: the model's "
                        "recorded dev data)")
    p.add_argument("--weights", nargs="+", type=float, metavar="W",
                   help="candidate weights of the network, each in [0, 1] (default: 0, 0.1, ..., 1)")
    p.add_argument("--min-positives", type=int, default=5, metavar="N",
                   help="dev positives a label needs to move its threshold from 0.5 (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the TF-IDF solver (default: 0)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="the network's precision while scoring the dev data (default: auto)")
    p.set_defaults(func=cmd_fuse)


def cmd_fuse(args: argparse.Namespace) -> int:
    """Run ``framescope fuse``; prints the dev micro-F1 of each weight and the chosen one."""
    from framescope.fusion_fit import GRID, fuse_artifact

    if args.out.resolve() == args.model.resolve():
        print("error: --out must be a new folder (the original model is kept)", file=sys.stderr)
        return 2
    grid = args.weights or GRID
    bad = [w for w in grid if not 0.0 <= w <= 1.0]
    if bad:
        print(f"error: --weights must lie in [0, 1]; got {bad}", file=sys.stderr)
        return 2
    if args.min_positives < 1:
        print("error: --min-positives must be at least 1", file=sys.stderr)
        return 2
    done = fuse_artifact(args.model, args.out, train=args.train, dev=args.dev, grid=grid,
                         min_positives=args.min_positives, seed=args.seed, precision=args.precision,
                         progress=sys.stderr.isatty())
    print(f"dev micro-F1 by weight of the network ({done['dev_records']} dev records):")
    for w, f1 in done["dev_micro_f1_by_weight"].items():
        mark = "  <- chosen" if abs(float(w) - done["weight"]) < 1e-9 else ""
        print(f"  w {float(w):.2f}  {f1:.4f}{mark}")
    print(f"network alone with its own thresholds: {done['dev_micro_f1_network_alone']:.4f}")
    print(f"fused model (w {done['weight']:g}) -> {args.out}")
    return 0
