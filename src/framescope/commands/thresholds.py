"""``framescope thresholds``: choose a trained model's per-label thresholds again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Choose a trained model's per-label decision thresholds again, without retraining: on the dev
data recorded in the model, or on labelled files of your own (--dev), for example a few hundred
paragraphs from the outlets you monitor. The weights are unchanged; the new model folder records
the policy, the data and the previous thresholds.

Policies: tuned (maximise F1 per label), shrunk (the tuned value pulled toward 0.5 in proportion
to how few positives a label has: t = (n*t_tuned + k*0.5)/(n+k)), bootstrap (median of the tuned
value over bootstrap resamples), global (one cut-off for all labels, the one that maximises
micro-F1 on the dev data; for labels of similar prevalence), fixed (0.5 for every label).
Labels with fewer than --min-positives positives keep 0.5.
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``thresholds`` subcommand."""
    from framescope.thresholds import POLICIES

    p = sub.add_parser("thresholds", help="choose a model's per-label thresholds again (no retraining)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  framescope thresholds --model models/default --dev my-dev.jsonl "
                              "--policy shrunk --out models/default-mydomain")
    p.add_argument("--model", type=Path, default=Path("models/default"), help="trained model folder")
    p.add_argument("--dev", nargs="+", default=[], metavar="PATH",
                   help="labelled data to choose on (default: the model's recorded dev data)")
    p.add_argument("--policy", choices=POLICIES, default="shrunk", help="how to choose (default: shrunk)")
    p.add_argument("--shrink", type=float, default=20.0, metavar="K",
                   help="pseudo-positives of the shrunk policy (default: 20)")
    p.add_argument("--min-positives", type=int, default=5, metavar="N",
                   help="positives a label needs to move from 0.5 (default: 5)")
    p.add_argument("--out", type=Path, required=True, help="the new model folder (written atomically)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap policy (default: 0)")
    p.set_defaults(func=cmd_thresholds)


def cmd_thresholds(args: argparse.Namespace) -> int:
    """Run ``framescope thresholds``; prints old and new thresholds."""
    from framescope.thresholds import retune_artifact

    if args.out.resolve() == args.model.resolve():
        print("error: --out must be a new folder (the original model is kept)", file=sys.stderr)
        return 2
    done = retune_artifact(args.model, args.out, dev=args.dev, policy=args.policy,
                           min_positives=args.min_positives, shrink=args.shrink, seed=args.seed,
                           progress=sys.stderr.isatty())
    width = max(len(k) for k in done["thresholds"]) + 2
    print(f"thresholds ({args.policy}, {done['passages']} passages) -> {args.out}")
    print(f"{'label':<{width}}{'positives':>10}{'before':>8}{'after':>8}  source")
    for lab, t in done["thresholds"].items():
        print(f"{lab:<{width}}{done['positives'][lab]:>10}{done['previous'].get(lab, 0.5):>8.2f}{t:>8.2f}  "
              f"{done['sources'][lab]}")
    return 0
