"""``framescope data``: stats, validate, split and convert datasets."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from framescope.commands.common import (
    add_error_args,
    add_input_args,
    errors_path,
    progress,
    read_options,
    taxonomy_arg,
)
from framescope.data import (
    ErrorLog,
    Passage,
    ReadStats,
    Taxonomy,
    bundled_dir,
    cut_articles,
    expand_inputs,
    fingerprint,
    load_passages,
    read_passages,
    split_passages,
    validate_inputs,
    write_splits,
)
from framescope.data.io import atomic_write_text, write_records


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect, validate, split and convert datasets",
                       description="Inspect, validate, split and convert datasets.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    s = dsub.add_parser("stats", help="counts, label frequencies, lengths, groups")
    s.add_argument("paths", nargs="+", help="files, folders or globs")
    s.add_argument("--taxonomy", help="taxonomy file to check labels against (or 'default')")
    s.add_argument("--json", action="store_true", help="print the statistics as JSON")
    add_input_args(s)
    s.set_defaults(func=cmd_stats)

    v = dsub.add_parser("validate", help="check every record; exit 0 when clean, 1 with errors",
                        description="Check every record. With no paths, checks the bundled seed "
                                    "dataset and sample feeds against the default taxonomy.")
    v.add_argument("paths", nargs="*", help="files, folders or globs (default: the bundled data)")
    v.add_argument("--taxonomy", help="taxonomy file ('default' for the war frames; 'none' to skip)")
    v.add_argument("--max-errors", type=int, default=50, help="errors to print (default 50)")
    v.add_argument("--duplicates", action="store_true",
                   help="also look for duplicate texts: exact (after normalising case and "
                        "spaces) and near duplicates (5-word shingles, Jaccard >= 0.5); found "
                        "ones make the data invalid")
    add_input_args(v)
    v.set_defaults(func=cmd_validate)

    sp = dsub.add_parser("split", help="seeded, grouped, stratified train/dev/test split")
    sp.add_argument("paths", nargs="+")
    sp.add_argument("--out", type=Path, required=True, help="folder for train/dev/test files")
    sp.add_argument("--ratios", default="0.8,0.1,0.1", help="train,dev,test shares (default 0.8,0.1,0.1)")
    sp.add_argument("--names", default="train,dev,test", help="split names (default train,dev,test)")
    sp.add_argument("--group-by", default="article_id",
                    help="field (or a+b) whose groups never straddle splits (default article_id)")
    sp.add_argument("--seed", type=int, default=13)
    sp.add_argument("--suffix", default=".jsonl", choices=(".jsonl", ".parquet", ".csv"))
    sp.add_argument("--taxonomy")
    add_input_args(sp)
    add_error_args(sp)
    sp.set_defaults(func=cmd_split)

    c = dsub.add_parser("convert", help="convert any readable input to JSONL/CSV/Parquet")
    c.add_argument("paths", nargs="+")
    c.add_argument("--out", type=Path, required=True, help="output .jsonl, .csv or .parquet")
    c.add_argument("--passages", action="store_true",
                   help="cut articles into passages (paragraphs / sentence windows) with offsets")
    c.add_argument("--max-tokens", type=int, default=200, help="passage budget (default 200)")
    c.add_argument("--taxonomy")
    add_input_args(c)
    add_error_args(c)
    c.set_defaults(func=cmd_convert)


def _percentiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {f"p{q}": float(np.percentile(arr, q)) for q in (5, 50, 95)} | {
        "min": int(arr.min()), "max": int(arr.max()), "mean": round(float(arr.mean()), 1)}


def _split_from_name(source: str | None) -> str:
    """``train``/``dev``/``test`` from a file named so (e.g. data/seed/dev.jsonl), else ``all``."""
    stem = Path(source or "").name.split(".")[0]
    return stem if stem in ("train", "dev", "validation", "test") else "all"


def compute_stats(passages: list[Passage], read: ReadStats,
                  taxonomy: Taxonomy | None = None) -> dict:
    """The statistics printed by ``framescope data stats`` (a JSON-ready dict)."""
    by_split: dict[str, Counter[str]] = {}
    n_split: Counter[str] = Counter()
    groups_split: dict[str, set[str]] = {}
    none_split: Counter[str] = Counter()
    groups, outlets = set(), Counter()
    labelled = 0
    multi = 0
    for p in passages:
        split = p.split or _split_from_name(p.source)
        n_split[split] += 1
        groups.add(p.group)
        groups_split.setdefault(split, set()).add(p.group)
        if p.outlet:
            outlets[p.outlet] += 1
        if p.labels is not None:
            labelled += 1
            by_split.setdefault(split, Counter()).update(set(p.labels))
            if not p.labels:
                none_split[split] += 1
            multi += len(set(p.labels)) > 1
    label_order = taxonomy.ids if taxonomy else sorted(
        {lab for c in by_split.values() for lab in c})
    return {
        "read": {"read": read.read, "accepted": read.accepted, "rejected": read.rejected,
                 "excluded": read.excluded},
        "records": len(passages),
        "splits": dict(n_split),
        "groups": len(groups),
        "groups_by_split": {k: len(v) for k, v in groups_split.items()},
        "outlets": dict(outlets.most_common()),
        "labelled": labelled,
        "no_label": dict(none_split),
        "multi_label": multi,
        "labels": {lab: {s: by_split[s][lab] for s in by_split} for lab in label_order},
        "chars": _percentiles([len(p.text) for p in passages]),
        "words": _percentiles([len(p.text.split()) for p in passages]),
        "fingerprint": fingerprint(passages),
    }


def print_stats(st: dict, out=None) -> None:
    w = (out or sys.stdout).write
    w(f"{st['read']['read']} records read = {st['read']['accepted']} accepted + "
      f"{st['read']['rejected']} rejected"
      + (f" ({st['read']['excluded']} excluded by a dataset rule)" if st['read']['excluded'] else "")
      + "\n")
    splits = ", ".join(f"{k} {v}" for k, v in st["splits"].items())
    gsplits = ", ".join(f"{k} {v}" for k, v in st["groups_by_split"].items())
    w(f"passages: {st['records']} ({splits}); groups (articles): {st['groups']} ({gsplits}); "
      f"fingerprint {st['fingerprint']}\n")
    if st["outlets"]:
        w(f"outlets ({len(st['outlets'])}): "
          + ", ".join(f"{k} {v}" for k, v in list(st["outlets"].items())[:12]) + "\n")
    c, wd = st["chars"], st["words"]
    if wd:
        w(f"length in words: min {wd['min']}, p5 {wd['p5']:.0f}, median {wd['p50']:.0f}, "
          f"p95 {wd['p95']:.0f}, max {wd['max']} (chars median {c['p50']:.0f})\n")
    if st["labels"]:
        split_names = sorted({s for v in st["labels"].values() for s in v},
                             key=lambda s: ("train", "dev", "test").index(s)
                             if s in ("train", "dev", "test") else 9)
        width = max(len(k) for k in st["labels"]) + 2
        cols = {s: max(8, len(s) + 2) for s in split_names}
        w(f"\n{'label':<{width}}" + "".join(f"{s:>{cols[s]}}" for s in split_names) + f"{'total':>8}\n")
        for lab, counts in st["labels"].items():
            total = sum(counts.values())
            w(f"{lab:<{width}}" + "".join(f"{counts.get(s, 0):>{cols[s]}}" for s in split_names)
              + f"{total:>8}\n")
        none = st["no_label"]
        w(f"{'(no label)':<{width}}" + "".join(f"{none.get(s, 0):>{cols[s]}}" for s in split_names)
          + f"{sum(none.values()):>8}\n")
        w(f"labelled passages: {st['labelled']}; with 2+ labels: {st['multi_label']}\n")


def cmd_stats(args: argparse.Namespace) -> int:
    tax = taxonomy_arg(args.taxonomy)
    log, stats = ErrorLog(keep=10), ReadStats()
    passages = list(progress(read_passages(args.paths, read_options(args),
                                           taxonomy=tax if isinstance(tax, Taxonomy) else None,
                                           on_error="collect", log=log, stats=stats), "reading"))
    st = compute_stats(passages, stats, tax if isinstance(tax, Taxonomy) else None)
    if args.json:
        print(json.dumps(st, indent=2, ensure_ascii=False))
    else:
        print_stats(st)
    if log.first:
        print(f"\n{stats.rejected} record(s) rejected; first ones:", file=sys.stderr)
        for e in log.first[:10]:
            print(f"  {e}", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    paths = args.paths
    if not paths:
        bundled = bundled_dir()
        paths = sorted(str(p) for p in (bundled / "seed").glob("*.jsonl"))
        paths += [str(bundled / "samples" / n) for n in ("feed.xml", "articles.jsonl")]
        if args.taxonomy is None:
            args.taxonomy = "default"
    tax = taxonomy_arg(args.taxonomy)
    stats, log = validate_inputs(paths, read_options(args),
                                 taxonomy=tax if isinstance(tax, Taxonomy) else None)
    for e in log.first[: args.max_errors]:
        print(e)
    if log.count > args.max_errors:
        print(f"... and {log.count - args.max_errors} more")
    print(stats.summary())
    empty = _empty_inputs(paths, args)
    for path in empty:
        print(f"{path}: holds no records (a header or an empty container only)")
    duplicates = _report_duplicates(paths, args) if args.duplicates else 0
    if log.fatal or duplicates or empty:
        found = f"{log.fatal} bad record(s)" + (f", {duplicates} duplicate pair(s)" if args.duplicates else "")
        found += f", {len(empty)} input(s) without records" if empty else ""
        print(f"INVALID: {found} in {len(paths)} input(s)")
        return 1
    print(f"OK: {len(paths)} input(s) valid")
    return 0


def _empty_inputs(paths: list[str], args: argparse.Namespace) -> list[str]:
    """Inputs that yield no record at all, not even a rejected one."""
    from framescope.data.formats import iter_file

    options = read_options(args)
    return [str(p) for p in expand_inputs(paths) if next(iter(iter_file(p, options)), None) is None]


def _report_duplicates(paths: list[str], args: argparse.Namespace) -> int:
    """Print exact and near duplicate pairs of the valid records; returns how many."""
    from framescope.data.dedup import exact_duplicates, near_duplicates

    passages = list(read_passages(paths, read_options(args), on_error="collect"))
    exact = exact_duplicates(passages)
    near = [t for t in near_duplicates(passages) if (t[0], t[1]) not in set(exact)]
    for a, b in exact[: args.max_errors]:
        print(f"duplicate text: {a} and {b}")
    for a, b, jac in near[: args.max_errors]:
        print(f"near duplicate ({jac:.2f} of 5-word shingles shared): {a} and {b}")
    return len(exact) + len(near)


def cmd_split(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.names.split(",")]
    try:
        shares = [float(x) for x in args.ratios.split(",")]
    except ValueError:
        print(f"error: --ratios must be comma-separated numbers, got {args.ratios!r}", file=sys.stderr)
        return 2
    if len(shares) != len(names):
        print(f"error: {len(shares)} ratios for {len(names)} names ({names})", file=sys.stderr)
        return 2
    data = load_passages(args.paths, read_options(args), taxonomy=taxonomy_arg(args.taxonomy),
                         on_error=args.on_error, errors_path=errors_path(args, args.out / "split"))
    for p in data.passages:
        p.split = None
    if not any(p.labels for p in data.passages):
        print("note: no record carries labels; the split is not stratified (pass "
              "--labels-column NAME if your labels are in another column)", file=sys.stderr)
    splits = split_passages(data.passages, ratios=dict(zip(names, shares)),
                            group_by=args.group_by, seed=args.seed)
    paths = write_splits(splits, args.out, suffix=args.suffix)
    manifest = {"inputs": [str(p) for p in args.paths], "group_by": args.group_by, "seed": args.seed,
                "ratios": dict(zip(names, shares)), "fingerprint": data.fingerprint,
                "splits": {n: {"path": str(paths[n].name), "passages": len(v),
                               "fingerprint": fingerprint(v)} for n, v in splits.items()}}
    atomic_write_text(args.out / "split.json", json.dumps(manifest, indent=2) + "\n")
    for n, v in splits.items():
        groups = len({p.group for p in v})
        print(f"{n}: {len(v)} passages, {groups} groups -> {paths[n]}")
    print(data.stats.summary())
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    data = load_passages(args.paths, read_options(args), taxonomy=taxonomy_arg(args.taxonomy),
                         on_error=args.on_error, errors_path=errors_path(args, args.out),
                         allow_empty=args.on_error == "skip")
    items = data.passages
    if args.passages:
        items = list(cut_articles(items, max_tokens=args.max_tokens))
    n = write_records((p.to_dict() for p in items), args.out)
    print(f"wrote {n} rows to {args.out}")
    print(data.stats.summary())
    if data.stats.rejected:
        print(f"rejected records written to {errors_path(args, args.out)}")
    return 0
