"""``framescope train``: fine-tune a passage classifier, or continue one with new labels.

The flags are generated from :class:`framescope.training.TrainConfig`, so the command line and
a ``--config`` JSON/YAML file share one schema: defaults < config file < flags given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from typing import Any

from framescope.commands.common import add_error_args, add_input_args

EXAMPLES = """\
examples:
  framescope train                                   # models/default from the bundled seed data
  framescope train --train my.jsonl --out models/mine          # dev carved from train, labels inferred
  framescope train --train tr.csv --dev dev.csv --taxonomy tax.yaml --text-column body
  framescope train --from models/default --train new.jsonl --out models/default-v2   # add labels
  framescope train --config run.yaml --epochs 3      # file settings, flags win
  accelerate launch -m framescope.cli train ...      # several GPUs / nodes (or torchrun)
"""


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    from framescope.training import TrainConfig

    p = sub.add_parser(
        "train", help="fine-tune a model (or continue one with new labels)",
        description="Fine-tune a transformer to score passages for framing (multi-label by "
                    "default) and save an artifact folder (safetensors, config, tokenizer, "
                    "framescope.json, model card) atomically. With no data arguments it trains "
                    "models/default from the bundled seed data.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="FILE",
                   help="JSON or YAML file of these settings (keys = flag names, e.g. "
                        "batch_size, from); flags given on the command line win")
    p.add_argument("--print-config", action="store_true",
                   help="print the effective settings as JSON and exit without training")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or epoch lines")
    hints = typing.get_type_hints(TrainConfig)
    groups = {"data": p.add_argument_group("data"), "model": p.add_argument_group("model and training")}
    data_fields = {"train", "dev", "test", "taxonomy", "from_model", "replay", "no_replay",
                   "group_by", "dev_ratio", "long_records"}
    for f in dataclasses.fields(TrainConfig):
        if f.metadata.get("common"):
            continue
        g = groups["data" if f.name in data_fields else "model"]
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS,
                                  "help": f.metadata.get("help", "")}
        hint = hints[f.name]
        if hint is bool:
            if f.metadata.get("negatable"):
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["action"] = "store_true"
        else:
            if "nargs" in f.metadata:
                kwargs["nargs"] = f.metadata["nargs"]
            if "choices" in f.metadata:
                kwargs["choices"] = f.metadata["choices"]
            if "metavar" in f.metadata:
                kwargs["metavar"] = f.metadata["metavar"]
            base = next((t for t in (int, float) if hint in (t, t | None)), str)
            # an old name of a choice (recorded in older commands) still parses, as its new name
            aliases = f.metadata.get("aliases", {})
            kwargs["type"] = (lambda v, _a=aliases: _a.get(v, v)) if aliases else base
        g.add_argument(_flag(f), **kwargs)
    add_input_args(p)
    add_error_args(p)
    common = [f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("common")]
    p.set_defaults(**dict.fromkeys(common, argparse.SUPPRESS))
    p.set_defaults(func=cmd_train)


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`TrainConfig` for parsed arguments (defaults < ``--config`` file < flags)."""
    from framescope.data import DataError
    from framescope.training import TrainConfig

    names = set(TrainConfig.field_names())
    # argparse runs `type` over string defaults, so a suppressed --errors arrives as a Path
    given = {k: v for k, v in vars(args).items() if k in names and str(v) != argparse.SUPPRESS}
    if given.get("errors") is not None:
        given["errors"] = str(given["errors"])
    if args.config:
        return TrainConfig.from_file(args.config, **given)
    try:
        return TrainConfig(**given)
    except ValueError as exc:
        raise DataError(str(exc)) from exc


def cmd_train(args: argparse.Namespace) -> int:
    """Run ``framescope train``; prints the one-screen summary; returns the exit code."""
    cfg = config_from_args(args)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    from framescope.training import train

    def echo(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    result = train(cfg, progress=not args.quiet, echo=echo)
    if result.main_process:
        print(result.summary())
    return 0
