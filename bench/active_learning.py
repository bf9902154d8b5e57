"""Does active learning pay? A simulated label loop on real data, the gold labels playing the annotator.

    python bench/active_learning.py                       # both tasks, 3 seeds, full strength (a GPU helps)
    python bench/active_learning.py --task babe --seeds 1 --jobs 1   # one curve per strategy
    python bench/active_learning.py --smoke --base PATH/TO/TINY      # seconds, CPU: the plumbing only
    python bench/active_learning.py --bundle DIR          # write the prepared data (+ backbone) for another machine
    python bench/active_learning.py --from-bundle DIR     # run from such a bundle (no ../shared needed)
    python bench/active_learning.py --render              # only redraw the plot and the RESULTS.md section

Tasks (real text from ``../shared/data``, read-only, never copied into the repository):

- ``babe``: BABE sentences, Biased vs Non-biased (single-label). A seeded split grouped by
  outlet+topic (``framescope.data.split_passages``): 70% unlabelled pool, 10% dev, 20% test.
  Metric: macro-F1.
- ``semeval-persuasion``: SemEval-2023 Task 3 subtask 3 (English), 23 persuasion techniques per
  paragraph (multi-label). Pool: the official train paragraphs less a seeded 10% of their articles
  (dev); test: the official dev paragraphs. Metric: micro-F1 (official), macro-F1 beside it.

The loop, for each strategy (``random``, ``uncertainty``, ``mixed``) and seed: start from the same
100 seeded random pool passages for every strategy, then

1. train a fresh model from the backbone on the labelled passages with ``framescope.training.train``
   (the same function as ``framescope train``): the same recipe and the same budget (``--epochs``
   maximum, early stopping on dev, per-label thresholds tuned on dev) for every strategy and size;
2. score the test set (inside ``train``) and record macro/micro-F1;
3. score the rest of the pool through framescope's inference path and pick the next ``--batch``
   passages with ``framescope.labelling.strategies.choose`` (the code behind ``framescope label
   select``; ``mixed`` also uses the model's passage embeddings); their gold labels are "annotated";

until ``--max-labels``. The dev set is fixed and shared by every strategy and size (it is not
counted as labels: a team needs one to tune thresholds whichever strategy it uses).

Every round is a line in ``bench/results/active_learning.jsonl`` (written as it happens, so an
interrupted run keeps what it finished); ``bench/results/active_learning.json`` summarises the
curves (mean and standard deviation over seeds), ``bench/results/active_learning.png`` plots them,
and a section of ``bench/RESULTS.md`` is regenerated between markers. The goal checked: does a
strategy reach random's F1 at ``--max-labels`` with at most 60% of the labels?
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _common import cpu_name, write_section  # noqa: E402
from carry import pack_backbone  # noqa: E402
from carry import unpack_backbone as carry_unpack  # noqa: E402

BUNDLE_NAME = "backbone.json"  # in a bundle's backbone folder: {"name": how results name it}

SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache" / "active-learning"
RESULTS = ROOT / "bench" / "results"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- active-learning:begin (written by bench/active_learning.py) -->", "<!-- active-learning:end -->"
STRATEGIES = ("random", "uncertainty", "mixed")
SPLIT_SEED = 13

TASKS: dict[str, dict[str, Any]] = {
    "babe": {
        "title": "BABE (sentences, Biased vs Non-biased, single-label)",
        "metric": "macro_f1", "single_label": True, "taxonomy": "infer",
    },
    "semeval-persuasion": {
        "title": "SemEval-2023 Task 3 subtask 3 (English paragraphs, 23 persuasion techniques, multi-label)",
        "metric": "micro_f1", "single_label": False, "taxonomy": "persuasion-techniques.yaml",
    },
}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --------------------------------------------------------------------------- data


def prepare(task: str, out: Path, *, smoke: bool = False) -> dict[str, Any]:
    """Write ``pool.jsonl``, ``dev.jsonl`` and ``test.jsonl`` for ``task`` under ``out`` (real text:
    ``out`` must stay outside git) through framescope's dataset module; returns their sizes."""
    from framescope.data import load_passages, split_passages
    from framescope.data.io import write_records

    if task == "babe":
        data = load_passages([SHARED / "babe" / "final_labels_SG2.csv"], taxonomy="infer")
        parts = split_passages(data.passages, ratios={"pool": 0.7, "dev": 0.1, "test": 0.2},
                               group_by="outlet+topic", seed=SPLIT_SEED)
    else:
        folder = SHARED / "semeval2023-t3-persuasion"
        tax = ROOT / "data" / "taxonomies" / TASKS[task]["taxonomy"]
        from framescope.data import load_taxonomy

        taxonomy = load_taxonomy(tax)
        train = load_passages([folder / "train-labels-subtask-3.txt"], taxonomy=taxonomy)
        parts = split_passages(train.passages, ratios={"pool": 0.9, "dev": 0.1}, group_by="article_id",
                               seed=SPLIT_SEED)
        parts["test"] = load_passages([folder / "dev-labels-subtask-3.txt"], taxonomy=taxonomy).passages
    if smoke:  # the plumbing only: small, fast
        parts = {"pool": parts["pool"][:300], "dev": parts["dev"][:60], "test": parts["test"][:80]}
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, passages in parts.items():
        write_records([p.to_dict(with_meta=False) for p in passages], out / f"{name}.jsonl")
        sizes[name] = len(passages)
    (out / "prepared.json").write_text(json.dumps({"task": task, "sizes": sizes, "smoke": smoke}), encoding="utf-8")
    return sizes


# --------------------------------------------------------------------------- one curve


def _embed(artifact: Any, texts: Sequence[str]) -> Any:
    from framescope import inference

    return inference.embed(artifact, texts, batch_size=256)


def run_curve(task: str, strategy: str, seed: int, data: Path, base: str, out: Path, *,
              start: int, batch: int, max_labels: int, epochs: float, max_length: int,
              deadline: float | None) -> None:
    """One learning curve: append a JSON line per round to ``out``."""
    import numpy as np

    from framescope.data.io import write_records
    from framescope.inference import predict_proba
    from framescope.labelling.strategies import choose
    from framescope.training import TrainConfig, train

    spec = TASKS[task]
    pool = _read_jsonl(data / "pool.jsonl")
    rng = np.random.default_rng(seed)
    labelled = [int(i) for i in rng.permutation(len(pool))[:start]]  # the same start for every strategy
    taxonomy = spec["taxonomy"] if spec["taxonomy"] == "infer" else str(ROOT / "data" / "taxonomies" / spec["taxonomy"])
    with tempfile.TemporaryDirectory(prefix=f"al-{task}-{strategy}-{seed}-") as work_dir:
        work = Path(work_dir)
        while True:
            if deadline is not None and time.time() > deadline:
                print(f"{task}/{strategy}/{seed}: deadline reached at {len(labelled)} labels", flush=True)
                return
            t0 = time.perf_counter()
            train_path = work / "labelled.jsonl"
            write_records([pool[i] for i in labelled], train_path)
            cfg = TrainConfig(train=[str(train_path)], dev=[str(data / "dev.jsonl")], test=[str(data / "test.jsonl")],
                              taxonomy=taxonomy, base=base, out=str(work / "model"), epochs=epochs, seed=seed,
                              max_length=max_length, single_label=spec["single_label"])
            result = train(cfg, progress=False, echo=lambda _line: None)
            t_train = time.perf_counter() - t0
            test = result.metrics["test"]
            row: dict[str, Any] = {
                "task": task, "strategy": strategy, "seed": seed, "labels": len(labelled),
                "macro_f1": test.get("macro_f1"), "micro_f1": test.get("micro_f1"),
                "best_epoch": result.meta["training"].get("best_epoch"),
                "epochs_run": result.meta["training"].get("epochs_run"),
                "device": result.meta["training"].get("device"), "train_seconds": round(t_train, 2),
                "positives": sum(1 for i in labelled if pool[i].get("labels")),
            }
            if len(labelled) >= max_labels:
                _append(out, row)
                return
            t1 = time.perf_counter()
            taken = set(labelled)
            rest = [i for i in range(len(pool)) if i not in taken]
            texts = [pool[i]["text"] for i in rest]
            artifact = result.artifact
            labels = artifact.taxonomy.ids
            if strategy == "random":
                probs, emb = np.zeros((len(rest), len(labels)), dtype=np.float32), None
            else:
                probs = predict_proba(artifact, texts, batch_size=256, precision="fp32")
                emb = _embed(artifact, texts) if strategy == "mixed" else None
            thresholds = np.array([artifact.thresholds[lab] for lab in labels])
            picks = choose(probs, thresholds, min(batch, max_labels - len(labelled)), strategy=strategy,
                           single_label=spec["single_label"], embeddings=emb, seed=seed + len(labelled))
            labelled.extend(rest[int(j)] for j in picks)
            row["select_seconds"] = round(time.perf_counter() - t1, 2)
            _append(out, row)
            del result, artifact
            _free_gpu()


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as fh:  # one line per write: a killed run loses at most a line
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    print(json.dumps(row), flush=True)


def _free_gpu() -> None:
    import gc

    gc.collect()
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


# --------------------------------------------------------------------------- summary, plot, RESULTS.md


def summarise(rows: Sequence[dict[str, Any]], max_labels: int) -> dict[str, Any]:
    """Mean/SD curves per task and strategy, and the goal check against random's F1 at max_labels."""
    out: dict[str, Any] = {}
    for task in sorted({r["task"] for r in rows}):
        metric = TASKS[task]["metric"]
        curves: dict[str, dict[int, list[float]]] = {}
        for r in rows:
            if r["task"] == task and r.get(metric) is not None:
                curves.setdefault(r["strategy"], {}).setdefault(r["labels"], []).append(float(r[metric]))
        table = {s: {str(n): {"mean": statistics.fmean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0,
                              "seeds": len(v)} for n, v in sorted(c.items())} for s, c in curves.items()}
        target = (table.get("random") or {}).get(str(max_labels))
        goal: dict[str, Any] = {"random_at_max": target}
        for s, c in table.items():
            if s == "random" or target is None:
                continue
            reached = [int(n) for n, v in c.items() if v["mean"] >= target["mean"]]
            goal[s] = {"labels_to_reach_random_at_max": min(reached) if reached else None,
                       "met": bool(reached) and min(reached) <= 0.6 * max_labels}
        out[task] = {"metric": metric, "title": TASKS[task]["title"], "curves": table, "goal": goal}
    return out


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(summary)
    if not tasks:
        return
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        block = summary[task]
        for strategy, curve in block["curves"].items():
            xs = [int(n) for n in curve]
            ys = [v["mean"] for v in curve.values()]
            sd = [v["sd"] for v in curve.values()]
            ax.plot(xs, ys, marker="o", label=strategy)
            ax.fill_between(xs, [y - s for y, s in zip(ys, sd)], [y + s for y, s in zip(ys, sd)], alpha=0.15)
        ax.set_title(task)
        ax.set_xlabel("labelled passages")
        ax.set_ylabel(f"test {block['metric'].replace('_', '-')}")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    """The RESULTS.md section (between markers)."""
    lines = [BEGIN, "## Does active learning pay? (`python bench/active_learning.py`)", ""]
    lines.append(
        f"Generated on {meta.get('date')} ({meta.get('minutes')} min; `bench/results/active_learning.json`, every "
        f"round in `bench/results/active_learning.jsonl`, plot `bench/results/active_learning.png`). Machine: "
        f"{meta.get('machine')}. Backbone: {meta.get('backbone')}; training per round: "
        f"`framescope.training.train` from the backbone, at most {meta.get('epochs')} epochs with early stopping "
        f"on a fixed dev set, max length {meta.get('max_length')}, the same for every strategy. Start "
        f"{meta.get('start')} seeded random labels, batches of {meta.get('batch')}, seeds {meta.get('seeds')}.")
    if meta.get("notes"):
        lines += ["", *[f"- {n}" for n in meta["notes"]]]
    lines.append("")
    lines.append("![learning curves](results/active_learning.png)")
    for block in summary.values():
        metric = block["metric"]
        lines += ["", f"### {block['title']}: test {metric.replace('_', '-')}, mean ± SD over seeds", ""]
        strategies = list(block["curves"])
        sizes = sorted({int(n) for c in block["curves"].values() for n in c})
        lines.append("| labels | " + " | ".join(strategies) + " |")
        lines.append("|---:|" + "---:|" * len(strategies))
        for n in sizes:
            cells = []
            for s in strategies:
                v = block["curves"][s].get(str(n))
                cells.append("" if v is None else f"{v['mean']:.3f} ± {v['sd']:.3f} ({v['seeds']})")
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        goal = block["goal"]
        target = goal.get("random_at_max")
        lines.append("")
        if target is None:
            lines.append("Goal check: random did not reach the largest size in this run (no target).")
        else:
            for s, g in goal.items():
                if s == "random_at_max":
                    continue
                reach = g["labels_to_reach_random_at_max"]
                lines.append(f"- {s}: {'reaches' if reach else 'never reaches'} random's {target['mean']:.3f} "
                             f"at {meta.get('max_labels')} labels" + (f" with {reach} labels" if reach else "")
                             + (" — goal (≤ 60%) met." if g["met"] else " — goal (≤ 60%) missed."))
    lines.append(END)
    return "\n".join(lines)


def write_results(rows: list[dict[str, Any]], meta: dict[str, Any], results: Path, *, results_md: Path | None) -> None:
    from framescope.data.io import atomic_write_text

    summary = summarise(rows, meta["max_labels"])
    atomic_write_text(results / "active_learning.json",
                      json.dumps({"meta": meta, "summary": summary}, indent=1) + "\n")
    plot(summary, results / "active_learning.png")
    section = render(summary, meta)
    atomic_write_text(results / "active_learning.md", section + "\n")
    write_section(results_md, BEGIN, END, section)


# --------------------------------------------------------------------------- machine, bundle, main


def machine() -> str:
    """The CPU (and GPU, if any) with the torch and transformers versions."""
    text = cpu_name()
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_available():
            text += f", GPU {torch.cuda.get_device_name(0)}; torch {torch.__version__}"
        else:
            text += f", no GPU; torch {torch.__version__}"
        import transformers

        text += f", transformers {transformers.__version__}"
    return text


def write_bundle(out: Path, tasks: Sequence[str], base: str | None) -> None:
    """Prepared data plus a float16 copy of the backbone (halves what travels; a backbone too big
    for one transfer goes in parts with bench/carry.py), for a GPU machine without ../shared.
    The folder holds real text: keep it out of git (bench/.cache is ignored)."""
    from framescope.modeling import resolve_base

    out.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        prepare(task, out / task)
    pack_backbone(Path(resolve_base(base)), out / "backbone")
    (out / "backbone" / BUNDLE_NAME).write_text(json.dumps({"name": backbone_name(base)}) + "\n",
                                                encoding="utf-8")


def backbone_name(base: str | None) -> str:
    """How results name a ``--base`` value: a known backbone by its model name, a folder by its path."""
    from framescope.modeling import known_base

    return known_base(base) or str(base)


def bundle_backbone_name(bundle: Path) -> str:
    """The name of the backbone a bundle carries (bundles older than its ``backbone.json`` carried the
    default), marked as the float16 copy it is."""
    f = bundle / "backbone" / BUNDLE_NAME
    name = json.loads(f.read_text(encoding="utf-8"))["name"] if f.is_file() else "all-MiniLM-L6-v2"
    return f"{name} (float16 copy, cast back to float32)"


def unpack_backbone(bundle: Path) -> Path:
    """Turn the bundle's float16 backbone (whole or in parts) back into a float32 ``model.safetensors``."""
    return carry_unpack(bundle / "backbone")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", nargs="+", choices=sorted(TASKS), default=sorted(TASKS))
    p.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--start", type=int, default=100)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--max-labels", type=int, default=1000)
    p.add_argument("--epochs", type=float, default=5.0)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--base", default=None, help="backbone folder (default: the embedded all-MiniLM-L6-v2)")
    p.add_argument("--jobs", type=int, default=1, help="curves run in parallel (processes)")
    p.add_argument("--minutes", type=float, default=None, help="stop starting rounds after this long")
    p.add_argument("--grace", type=float, default=90.0,
                   help="seconds after --minutes before running rounds are killed (default: 90)")
    p.add_argument("--smoke", action="store_true", help="tiny data, plumbing only (results not written to RESULTS.md)")
    p.add_argument("--bundle", type=Path, default=None, help="only write prepared data + backbone here")
    p.add_argument("--from-bundle", type=Path, default=None, help="run from a bundle (no ../shared)")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--render", action="store_true", help="only redraw from the results JSONL")
    p.add_argument("--note", action="append", default=[], help="a note for the RESULTS.md section")
    p.add_argument("--worker", nargs=3, metavar=("TASK", "STRATEGY", "SEED"), help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.worker:
        task, strategy, seed = args.worker
        from framescope.modeling import quiet_transformers

        quiet_transformers()
        run_curve(task, strategy, int(seed), args.data, args.base, args.out, start=args.start, batch=args.batch,
                  max_labels=args.max_labels, epochs=args.epochs, max_length=args.max_length,
                  deadline=args.deadline)
        return 0
    args.results.mkdir(parents=True, exist_ok=True)
    rows_path = args.results / ("active_learning.smoke.jsonl" if args.smoke else "active_learning.jsonl")
    meta_path = rows_path.with_suffix(".meta.json")
    if args.render:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["notes"] = meta.get("notes", []) + args.note
        write_results(_read_jsonl(rows_path), meta, args.results, results_md=None if args.smoke else RESULTS_MD)
        return 0
    if args.bundle:
        write_bundle(args.bundle, args.task, args.base)
        print(f"bundle written to {args.bundle}")
        return 0
    if args.from_bundle:
        base = args.base or str(unpack_backbone(args.from_bundle))
        data_root = args.from_bundle
        backbone = args.base or bundle_backbone_name(args.from_bundle)
    else:
        if not SHARED.exists():
            print("../shared/data not found: this benchmark needs the public datasets (skipped)")
            return 0
        from framescope.modeling import resolve_base

        base = args.base or str(resolve_base(None))
        data_root = CACHE / ("smoke" if args.smoke else "full")
        for task in args.task:
            if not (data_root / task / "prepared.json").exists():
                prepare(task, data_root / task, smoke=args.smoke)
        backbone = backbone_name(args.base) + (" (embedded)" if args.base is None else "")
    rows_path.unlink(missing_ok=True)
    t0 = time.time()
    deadline = t0 + args.minutes * 60 if args.minutes else None
    jobs = [(task, strategy, seed) for seed in range(1, args.seeds + 1) for task in args.task
            for strategy in args.strategies]
    logs = args.results / ".active_learning_logs"
    logs.mkdir(exist_ok=True)
    running: list[tuple[subprocess.Popen[bytes], Any]] = []
    failed = 0
    for task, strategy, seed in jobs:
        while len(running) >= args.jobs:
            failed += _reap(running)
        cmd = [sys.executable, __file__, "--worker", task, strategy, str(seed), "--data", str(data_root / task),
               "--out", str(rows_path), "--base", base, "--start", str(args.start), "--batch", str(args.batch),
               "--max-labels", str(args.max_labels), "--epochs", str(args.epochs),
               "--max-length", str(args.max_length)]
        if deadline:
            cmd += ["--deadline", str(deadline)]
        log = open(logs / f"{task}-{strategy}-{seed}.log", "wb")  # noqa: SIM115 (closed by _reap)
        threads = str(max(1, (os.cpu_count() or 1) // min(args.jobs, len(jobs))))
        env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    while running:
        if deadline and time.time() > deadline + args.grace:  # a round still running past the grace: stop it
            for proc, _log in running:
                proc.kill()
            print(f"stopped {len(running)} worker(s) {args.grace:.0f}s after the deadline; their last round is lost")
        failed += _reap(running)
    rows = _read_jsonl(rows_path) if rows_path.exists() else []
    import datetime as _dt

    meta = {"date": _dt.date.today().isoformat(), "minutes": round((time.time() - t0) / 60, 1), "machine": machine(),
            "backbone": backbone, "epochs": args.epochs, "max_length": args.max_length, "start": args.start,
            "batch": args.batch, "max_labels": args.max_labels, "seeds": args.seeds, "strategies": args.strategies,
            "tasks": args.task, "failed_workers": failed, "smoke": args.smoke, "notes": args.note,
            "sizes": {t: json.loads((data_root / t / "prepared.json").read_text())["sizes"] for t in args.task}}
    meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    write_results(rows, meta, args.results, results_md=None if args.smoke else RESULTS_MD)
    print(f"{len(rows)} rounds in {meta['minutes']} min; {failed} worker(s) failed (logs in {logs})")
    return 1 if failed else 0


def _reap(running: list[tuple[subprocess.Popen[bytes], Any]]) -> int:
    """Wait until one worker ends; returns 1 if it failed."""
    while True:
        for i, (proc, log) in enumerate(running):
            if proc.poll() is not None:
                log.close()
                running.pop(i)
                if proc.returncode:
                    print(f"worker {' '.join(proc.args[3:6])} failed (exit {proc.returncode}); see {log.name}")
                return int(proc.returncode != 0)
        time.sleep(0.5)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
