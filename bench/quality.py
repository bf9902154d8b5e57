"""Real-data quality benchmarks: framescope vs a TF-IDF baseline vs published figures.

Every task is trained and evaluated through the public command line only (``framescope data``,
``framescope train``, ``framescope evaluate``, ``framescope score``), each run as a subprocess
whose wall time and peak memory (RSS of the whole process tree) are measured.

Tasks (data in ``../shared/data``, read-only, never copied into the repository):

- ``semeval-persuasion``: SemEval-2023 Task 3 subtask 3 (English), 23 persuasion techniques per
  paragraph. Train on the official train file (dev carved from it by ``framescope train``,
  grouped by article), report on the official dev set: micro-F1 (official), macro-F1,
  per-technique F1. Reference: organisers' SVM baseline, micro-F1 0.161.
- ``semeval-frames``: subtask 2 (English), 14 frames per article. Articles are cut into
  passages (``framescope data convert --passages``) that inherit their article's frames; the
  passage model is evaluated per article (``framescope evaluate --level article``, max
  aggregation; noisy-OR as well). Reference: organisers' baseline, micro-F1 0.605.
- ``babe``: BABE sentences, Biased vs Non-biased, single-label; a fixed seeded split grouped by
  outlet+topic (``framescope data split``). Macro-F1; reference 0.804 (Spinde et al., 2021).
  Word-level evidence: precision@k of ``framescope score --evidence`` words against the
  annotated ``biased_words``, next to a seeded random-word baseline.

Usage::

    python bench/quality.py --task all                # the full benchmark (about 90 min on 2 cores)
    python bench/quality.py --task babe --seeds 3 --epochs 2
    python bench/quality.py --task babe --smoke --base PATH/TO/TINY --cache /tmp/c --results-dir /tmp/r
    python bench/quality.py --render                  # only regenerate bench/RESULTS.md

Writes ``bench/results/TASK.json`` and regenerates ``bench/RESULTS.md`` from every results file.
Derived data (splits, passages, models, reports) goes to ``bench/.cache/`` (outside git).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache"
RESULTS_DIR = ROOT / "bench" / "results"
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
TAXONOMIES = ROOT / "data" / "taxonomies"
TASKS = ("semeval-persuasion", "semeval-frames", "babe")
#: The seed of every data split made here (fixed: the split is part of the benchmark's definition).
SPLIT_SEED = 13
#: Where RESULTS.md's generated part ends: what follows comes from other bench scripts and is kept.
OTHERS_MARKER = "<!-- bench/quality.py writes what is above; the sections below come from other bench scripts -->"
#: A task must finish (all seeds) within this many seconds on the 2-core reference machine.
TASK_BUDGET_S = 30 * 60
WORD = re.compile(r"\w+(?:['’\-]\w+)*")


class BenchError(RuntimeError):
    """A benchmark step failed; the message names the command and the end of its log."""


# --------------------------------------------------------------------------- running steps

@dataclass
class Step:
    """One measured subprocess: its command, wall time, peak memory and load."""

    name: str
    command: list[str]
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    load_before: float = 0.0
    load_max: float = 0.0
    cpu_seconds: float = 0.0
    log: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        """The step :meth:`to_dict` saved (``--resume``), its command split again."""
        return cls(d["name"], shlex.split(d["command"]), seconds=d["seconds"], peak_rss_mb=d["peak_rss_mb"],
                   load_before=d["load_before"], load_max=d["load_max"], cpu_seconds=d["cpu_seconds"],
                   log=d["log"])

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "command": display(self.command), "seconds": round(self.seconds, 1),
                "cpu_seconds": round(self.cpu_seconds, 1),
                "peak_rss_mb": round(self.peak_rss_mb, 1), "load_before": round(self.load_before, 2),
                "load_max": round(self.load_max, 2), "log": self.log}


def framescope_exe() -> list[str]:
    """The ``framescope`` console script of this interpreter's environment.

    Falls back to ``python -m framescope.cli`` (the same entry point) when the package is
    importable but its console script is not installed.
    """
    exe = Path(sys.executable).with_name("framescope")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("framescope")
    if found:
        return [found]
    try:
        import framescope.cli  # noqa: F401
    except ImportError:
        raise BenchError("the 'framescope' command was not found next to this Python or on PATH; "
                         "install the package with `pip install -e .` in the repository root") from None
    return [sys.executable, "-m", "framescope.cli"]


def display(cmd: Sequence[str]) -> str:
    """A command as a user would type it: ``framescope …`` and paths relative to the repo."""
    out: list[str] = []
    parts = list(cmd)
    if parts[1:3] == ["-m", "framescope.cli"]:
        parts = ["framescope", *parts[3:]]
    for i, part in enumerate(parts):
        if i == 0 and Path(part).name == "framescope":
            out.append("framescope")
            continue
        text = str(part)
        if text.startswith(str(ROOT.parent) + os.sep):  # the repo and ../shared beside it
            text = os.path.relpath(text, ROOT)
        out.append(text)
    return shlex.join(out)


def _tree_rss(proc: Any) -> int:
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run_step(name: str, cmd: Sequence[str], log_dir: Path, *, timeout: float | None = None,
             quiet: bool = False) -> Step:
    """Run ``cmd`` as a subprocess, polling the RSS of its whole process tree and the load.

    Raises:
        BenchError: when the command exits non-zero or times out (with the end of its log).
    """
    import psutil

    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    step = Step(name, [str(c) for c in cmd], load_before=os.getloadavg()[0],
                log=os.path.relpath(log_path, ROOT) if log_path.is_relative_to(ROOT) else str(log_path))
    if not quiet:
        print(f"  $ {display(cmd)}", flush=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    peak = 0
    load_max = step.load_before
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(step.command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        ps = psutil.Process(proc.pid)
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak, load_max
            while not stop.is_set():
                peak = max(peak, _tree_rss(ps))
                load_max = max(load_max, os.getloadavg()[0])
                stop.wait(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
        finally:
            stop.set()
            watcher.join()
    step.seconds = time.perf_counter() - t0
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    step.cpu_seconds = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    # a process too short for one poll: fall back to the largest child's maxrss (KiB on Linux)
    step.peak_rss_mb = peak / 2**20 if peak else usage1.ru_maxrss / 1024
    step.load_max = load_max
    if rc != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        why = f"timed out after {timeout:.0f} s" if rc is None else f"exited with status {rc}"
        raise BenchError(f"step {name!r} {why}:\n  {display(cmd)}\n--- end of {log_path} ---\n{tail}")
    if not quiet:
        print(f"    {step.seconds:.0f} s ({step.cpu_seconds:.0f} CPU s), peak RSS {step.peak_rss_mb:.0f} MiB, "
              f"load {step.load_before:.1f}->{step.load_max:.1f}", flush=True)
    return step


# --------------------------------------------------------------------------- settings & tasks

@dataclass
class Settings:
    """What one benchmark run uses (command-line values over the task's defaults)."""

    seeds: list[int]
    epochs: float | None = None
    max_length: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    max_minutes: float | None = None
    precision: str | None = None
    freeze_layers: int | None = None
    train_fraction: float | None = None
    base: str | None = None
    base_name: str | None = None
    bootstrap: int = 1000
    smoke: bool = False
    keep_models: bool = False
    cache: Path = CACHE
    results_dir: Path = RESULTS_DIR
    results_md: Path = RESULTS_MD
    variant: str | None = None
    tag: str | None = None
    extra_train: list[str] = field(default_factory=list)
    data_root: Path = SHARED
    resume: bool = False


@dataclass
class Prepared:
    """Data prepared for one task: what to train on, tune on, and evaluate on."""

    train: list[str]
    eval_data: list[str]
    dev: list[str] = field(default_factory=list)
    evidence_data: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    """A benchmark task: data, defaults chosen for the CPU budget, metric and reference."""

    name: str
    title: str
    folder: str
    taxonomy: str
    metric: str
    reference: float
    reference_source: str
    defaults: dict[str, Any]
    prepare: Callable[[Task, Settings, Path, list[Step]], Prepared]
    train_args: list[str] = field(default_factory=list)
    eval_args: list[str] = field(default_factory=list)
    extra_evals: dict[str, list[str]] = field(default_factory=dict)
    #: also fuse each seed's model with TF-IDF (``framescope fuse``) and evaluate the fused model
    fuse: bool = False
    evidence: bool = False
    smoke_sizes: dict[str, float] = field(default_factory=dict)
    scheme: str = ""
    remarks: list[str] = field(default_factory=list)


def _split(src: Sequence[str | Path], out: Path, ratios: Sequence[float], names: Sequence[str],
           group_by: str, settings: Settings, steps: list[Step], name: str,
           extra: Sequence[str] = ()) -> dict[str, str]:
    """``framescope data split`` (seeded, grouped, stratified); returns ``{name: path}``."""
    cmd = [*framescope_exe(), "data", "split", *map(str, src), "--out", str(out),
           "--ratios", ",".join(f"{r:g}" for r in ratios), "--names", ",".join(names),
           "--group-by", group_by, "--seed", str(SPLIT_SEED), *extra]
    steps.append(run_step(name, cmd, settings.cache / "logs"))
    return {n: str(out / f"{n}.jsonl") for n in names}


def _subsample(src: Sequence[str | Path], out: Path, fraction: float, group_by: str,
               settings: Settings, steps: list[Step], name: str, extra: Sequence[str] = ()) -> str:
    """A seeded, grouped, label-stratified share of ``src`` (``framescope data split``)."""
    if fraction >= 1:
        return str(src[0]) if len(src) == 1 else str(src)
    parts = _split(src, out, [fraction, 1 - fraction], ["sub", "rest"], group_by, settings, steps,
                   name, extra)
    Path(parts["rest"]).unlink(missing_ok=True)
    return parts["sub"]


def _prepare_official(task: Task, s: Settings, cache: Path, steps: list[Step], stem: str,
                      note: str) -> Prepared:
    """SemEval's official ``train-STEM`` / ``dev-STEM`` files, with a grouped training share."""
    folder = s.data_root / task.folder
    train, dev = folder / f"train-{stem}", folder / f"dev-{stem}"
    p = Prepared(train=[str(train)], eval_data=[str(dev)])
    frac = s.train_fraction if s.train_fraction is not None else task.defaults["train_fraction"]
    if s.smoke:
        frac = task.smoke_sizes["train"]
        p.eval_data = [_subsample([dev], cache / "dev-sub", task.smoke_sizes["eval"], "article_id", s,
                                  steps, "prepare-eval-subsample")]
    if frac < 1:
        p.train = [_subsample([train], cache / "train-sub", frac, "article_id", s, steps,
                              "prepare-train-subsample")]
        p.notes.append(note.format(frac=frac))
    p.info["train_fraction"] = frac
    return p


def prepare_persuasion(task: Task, s: Settings, cache: Path, steps: list[Step]) -> Prepared:
    return _prepare_official(
        task, s, cache, steps, "labels-subtask-3.txt",
        "Trained on a seeded, article-grouped, label-stratified {frac:.0%} of the official train "
        "paragraphs (framescope data split) to fit the CPU budget; the TF-IDF baseline trains on "
        "the same share (it reads the model's data).")


def prepare_frames(task: Task, s: Settings, cache: Path, steps: list[Step]) -> Prepared:
    return _prepare_official(
        task, s, cache, steps, "labels-subtask-2.txt",
        "Trained on a seeded, label-stratified {frac:.0%} of the train articles (framescope data "
        "split) to fit the CPU budget; the TF-IDF baseline trains on the same articles.")


def prepare_babe(task: Task, s: Settings, cache: Path, steps: list[Step]) -> Prepared:
    split_dir = cache / "split"
    parts = _split([s.data_root / task.folder], split_dir, [0.8, 0.1, 0.1], ["train", "dev", "test"],
                   "outlet+topic", s, steps, "prepare-split")
    p = Prepared(train=[parts["train"]], dev=[parts["dev"]], eval_data=[parts["test"]])
    manifest = json.loads((split_dir / "split.json").read_text(encoding="utf-8"))
    p.info["split"] = {"group_by": manifest["group_by"], "seed": manifest["seed"],
                       "ratios": manifest["ratios"], "source_fingerprint": manifest["fingerprint"],
                       "splits": manifest["splits"]}
    p.info["split"]["label_counts"] = {n: _label_counts(parts[n]) for n in ("train", "dev", "test")}
    frac = s.train_fraction if s.train_fraction is not None else task.defaults["train_fraction"]
    if s.smoke:
        frac = task.smoke_sizes["train"]
        p.dev = [_subsample(p.dev, cache / "dev-sub", task.smoke_sizes["dev"], "outlet+topic", s, steps,
                            "prepare-dev-subsample")]
        p.eval_data = [_subsample(p.eval_data, cache / "test-sub", task.smoke_sizes["eval"], "id", s,
                                  steps, "prepare-eval-subsample")]
    if frac < 1:
        p.train = [_subsample(p.train, cache / "train-sub", frac, "outlet+topic", s, steps,
                              "prepare-train-subsample")]
        p.notes.append(f"Trained on a seeded, outlet+topic-grouped, label-stratified {frac:.0%} of "
                       "the train split to fit the CPU budget.")
    p.info["train_fraction"] = frac
    limit = task.smoke_sizes["evidence"] if s.smoke else task.defaults["evidence_sentences"]
    p.evidence_data, n_all, n_used = _annotated_subset(p.eval_data[0], cache / "evidence-input.jsonl",
                                                       limit)
    p.info["evidence_sentences"] = {"annotated_in_test": n_all, "scored": n_used, "sample_seed": SPLIT_SEED}
    if n_used < n_all:
        p.notes.append(f"Evidence (occlusion costs a forward pass per word) was computed on a seeded "
                       f"sample of {n_used} of the {n_all} test sentences that have annotated biased words.")
    return p


def _label_counts(path: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in _load(path):
        for lab in p.labels or []:
            counts[lab] = counts.get(lab, 0) + 1
    return counts


def _load(path: str | Path) -> list[Any]:
    from framescope.data import load_passages

    return load_passages([str(path)]).passages


def _annotated_subset(test_path: str, out: Path, limit: int) -> tuple[list[str], int, int]:
    """Test sentences with annotated ``biased_words`` (where precision@k is defined), at most
    ``limit`` of them (a seeded sample, in file order).

    Scoring with occlusion evidence costs a forward pass per word, so only sentences that can
    enter the evidence metric are scored; a sentence's prediction does not depend on which
    other sentences are scored with it.

    Returns:
        ([path], annotated sentences in the test file, sentences written).
    """
    from framescope.data.io import write_records

    rows = [p.to_dict() for p in _load(test_path) if p.meta.get("biased_words")]
    n_all = len(rows)
    if len(rows) > limit:
        keep = set(random.Random(SPLIT_SEED).sample(range(len(rows)), limit))
        rows = [r for i, r in enumerate(rows) if i in keep]
    write_records(rows, out)
    return [str(out)], n_all, len(rows)


PERSUASION = Task(
    name="semeval-persuasion",
    title="SemEval-2023 Task 3, subtask 3 (English): persuasion techniques per paragraph",
    folder="semeval2023-t3-persuasion",
    taxonomy="persuasion-techniques.yaml",
    metric="micro_f1",
    reference=0.161,
    reference_source="organisers' SVM baseline on the English dev set (official metric micro-F1)",
    defaults={"epochs": 1, "max_length": 128, "train_fraction": 0.3},
    prepare=prepare_persuasion,
    smoke_sizes={"train": 0.03, "eval": 0.05},
    scheme="paragraph = passage; multi-label (sigmoid + BCE with per-label positive weights)",
    remarks=["4 of the 23 techniques of the taxonomy never occur in the English data; they count in "
             "micro-F1 (false positives only, as in the official scorer) and are left out of "
             "macro-F1 (no gold and no predicted positives)."],
)

FRAMES = Task(
    name="semeval-frames",
    title="SemEval-2023 Task 3, subtask 2 (English): 14 frames per article",
    folder="semeval2023-t3-frames",
    taxonomy="policy-frames.yaml",
    metric="micro_f1",
    reference=0.605,
    reference_source="organisers' baseline on the English dev set (official metric micro-F1)",
    defaults={"epochs": 1, "max_length": 128, "train_fraction": 0.4},
    prepare=prepare_frames,
    train_args=["--long-records", "cut", "--dev-ratio", "0.2"],
    eval_args=["--level", "article", "--aggregate", "max"],
    extra_evals={"noisy-or": ["--level", "article", "--aggregate", "noisy-or"]},
    smoke_sizes={"train": 0.06, "eval": 0.15},
    scheme=("articles cut by `framescope train --long-records cut` into passages of at most "
            "max-length tokens that inherit their article's frames; dev (carved by article) and test "
            "scored per article, passage scores aggregated by max (noisy-OR reported too), so the "
            "per-label thresholds are tuned on the same article-level scores they are used on"),
    remarks=["The TF-IDF baseline reads each whole article (it has no token window), so passage "
             "aggregation does not change its scores."],
)

BABE = Task(
    name="babe",
    title="BABE: sentence-level media bias (Biased vs Non-biased)",
    folder="babe",
    taxonomy="infer",
    metric="macro_f1",
    reference=0.804,
    reference_source="Spinde et al., Findings of EMNLP 2021: BERT-family model with distant-supervision "
                     "pre-training, macro-F1",
    defaults={"epochs": 1, "max_length": 128, "train_fraction": 0.6, "evidence_sentences": 100},
    prepare=prepare_babe,
    train_args=["--single-label"],
    evidence=True,
    smoke_sizes={"train": 0.08, "dev": 0.3, "eval": 0.25, "evidence": 30},
    scheme="sentence = passage; single-label (softmax over Biased / Non-biased)",
    remarks=["The split (`framescope data split --group-by outlet+topic --ratios 0.8,0.1,0.1 --seed 13`, "
             "label-stratified) leaves 8 outlet+topic groups in dev and 14 in test, so dev and test differ "
             "in difficulty (103 Reuters vaccine sentences, all but 3 non-biased, are in test) and the test "
             "CI is wide; Spinde et al. report 5-fold cross-validation on the whole corpus, so the "
             "comparison is indicative. BABE spells some topics two ways (`gun control` / "
             "`gun-control`), so such a pair can straddle splits."],
)

TASK_SPECS: dict[str, Task] = {t.name: t for t in (PERSUASION, FRAMES, BABE)}


def _scored_by_own_rule(rule: str, name: str, score: str) -> dict[str, Any]:
    """A multiple-instance variant whose model scores articles by the rule it was trained on
    (its max aggregation reported beside it)."""
    return {"train": ["--record-loss", rule],
            "label": f"framescope, multiple-instance objective (article {name})",
            "eval_args": ["--level", "article", "--aggregate", rule],
            "extra_evals": {"max": ["--level", "article", "--aggregate", "max"]},
            "about": f"multiple-instance training (`framescope train --record-loss {rule}`): each article "
                     f"is one training example whose score is {score}, and the model scores articles "
                     "the same way (its max aggregation is reported too)"}


#: Improvement experiments and other configurations (``--variant NAME``): extra ``framescope
#: train`` arguments and overrides of the task defaults (``defaults`` for every task,
#: ``task_defaults`` per task), each reported beside the task's main run.
VARIANTS: dict[str, dict[str, Any]] = {
    "pos-weight-balanced": {
        "train": ["--pos-weight", "balanced"],
        "label": "framescope, loss weights negatives/positives (`--pos-weight balanced`)",
        "about": "class weighting negatives/positives per label (capped at 50) instead of the "
                 "default sqrt(negatives/positives)"},
    "leads": {
        "train": ["--long-records", "truncate"], "defaults": {"train_fraction": 1.0, "epochs": 2},
        "about": "all train articles, each truncated to its first 128 tokens (title and lead), "
                 "2 epochs, instead of 40% of the articles cut into passages"},
    "random-head": {
        "train": ["--head-init", "random", "--lr", "2e-4"],
        "label": "framescope, previous recipe (random head)",
        "about": "the training recipe before the linear-probe head: the classification head starts "
                 "from random weights and learns at 10x a peak learning rate of 2e-4 (framescope "
                 "train's defaults until 2026-11-28); the main rows use a head fitted as a linear "
                 "probe on the frozen backbone first, then fine-tuned at 5e-5"},
    "len256": {
        "defaults": {"max_length": 256},
        "label": "framescope, passages of up to 256 tokens",
        "about": "passages of up to 256 tokens instead of 128 (a longer context per passage; many "
                 "persuasion paragraphs are longer than 128 tokens), the same data share and epochs"},
    "lr3e-4": {"train": ["--lr", "3e-4"], "about": "peak learning rate 3e-4 instead of the default"},
    "lr1e-4": {"train": ["--lr", "1e-4"], "about": "peak learning rate 1e-4 instead of the default"},
    "mil-max": {
        "train": ["--record-loss", "max"],
        "label": "framescope, multiple-instance objective (article max)",
        "about": "multiple-instance training (`framescope train --record-loss max`): each article is "
                 "one training example whose score is the max of its passages' scores, instead of "
                 "every passage inheriting the article's frames; scored as the main rows (max)"},
    "mil-noisy-or": _scored_by_own_rule(
        "noisy-or", "noisy-OR", "the noisy-OR 1 - prod(1 - p) of its passages' scores"),
    "mil-mean": _scored_by_own_rule(
        "mean", "mean", "the mean of its passages' scores (a frame is judged on the whole article, as "
        "TF-IDF sees it)"),
    "full": {
        "label": "framescope, full strength (all data, the best recipe measured per task)",
        "defaults": {"train_fraction": 1.0, "evidence_sentences": 100_000},
        "task_defaults": {
            "semeval-persuasion": {"epochs": 4, "max_length": 128, "freeze_layers": 0},
            "semeval-frames": {"epochs": 3, "max_length": 128},
            "babe": {"epochs": 3, "max_length": 128, "lr": 2e-5, "freeze_layers": 0, "base": "mpnet",
                     "base_name": "all-mpnet-base-v2"}},
        "task_train": {"semeval-frames": ["--record-loss", "max"]},
        "task_fuse": ["semeval-frames"],
        "about": "full strength (`--full`): all training data and, per task, the recipe that measured "
                 "best on 2 CPU cores (bench/results/NOTES.md): persuasion 4 epochs at 128 tokens with "
                 "every layer trained (`--freeze-layers 0`); frames the multiple-instance objective "
                 "(`--record-loss max`), 3 epochs, and each model also fused with TF-IDF (`framescope "
                 "fuse`, weight and thresholds chosen on its dev articles; reported as the `fused` row); BABE all-mpnet-base-v2 (`--base mpnet`, its "
                 "packages installed) at learning rate 2e-5, 3 epochs, every layer trained. Each keeps "
                 "its best dev epoch"},
    "gpu-full": {
        "label": "framescope, all data and more epochs on one GPU",
        "train": ["--batch-size", "32"],
        "defaults": {"train_fraction": 1.0, "evidence_sentences": 100_000},
        "task_defaults": {"semeval-persuasion": {"epochs": 4, "max_length": 256},
                          "semeval-frames": {"epochs": 6, "max_length": 256},
                          "babe": {"epochs": 4, "max_length": 128}},
        "about": "what the CPU budget costs: all training data, up to 4/6/4 epochs (persuasion/frames/"
                 "BABE; early stopping, patience 2), max length 256/256/128, batch 32, on one GPU"},
}


def effective_task(task: Task, variant: str | None) -> Task:
    """The task with a variant's default overrides applied."""
    if not variant:
        return task
    v = VARIANTS[variant]
    defaults = {**task.defaults, **v.get("defaults", {}), **v.get("task_defaults", {}).get(task.name, {})}
    return dataclasses.replace(task, defaults=defaults, eval_args=v.get("eval_args", task.eval_args),
                               extra_evals=v.get("extra_evals", task.extra_evals),
                               fuse=task.fuse or task.name in v.get("task_fuse", ()),
                               train_args=[*task.train_args, *v.get("task_train", {}).get(task.name, [])])


def _reused(r: dict[str, Any]) -> str:
    """``; seed 0 reused from an earlier run (commit C, DATE)`` for a ``--resume`` run, else ``""``."""
    seeds = (r.get("resumed") or {}).get("seeds_reused") or {}
    return "".join(f"; seed {k}{' (' + ', '.join(v['steps_reused']) + ')' if v.get('steps_reused') else ''} "
                   f"reused from an earlier run (commit `{v['git_commit']}`, {v['finished'][:10]})"
                   for k, v in seeds.items())


def _epochs(value: float | str) -> str:
    """An epochs setting as text: a number, or ``auto`` (framescope train's default)."""
    return "auto (up to 10, early stopping)" if value == "auto" else f"{value:g}"


# --------------------------------------------------------------------------- evidence metric

def _norm(word: str) -> str:
    return word.strip().strip("\"'“”‘’.,;:!?()[]").lower()


def evidence_precision(rows: Sequence[dict[str, Any]], gold: dict[str, list[str]], *, label: str,
                       ks: Sequence[int] = (1, 3), seed: int = 0, draws: int = 200) -> dict[str, Any]:
    """Precision@k of evidence words against annotated words, with a random-word baseline.

    For each scored passage predicted ``label`` whose gold word list is non-empty, the evidence
    spans of ``label`` (strongest first) are cut into words; the first ``k`` distinct words are
    compared (case-insensitively) with the annotated words. A passage with fewer than ``k``
    evidence words is judged on those it has. The random baseline draws the same number of
    distinct words uniformly from the same passage (``draws`` seeded draws per passage). Rows
    ``ID#k`` (pieces of a record longer than the model's window) take the gold words of ``ID``.

    Returns:
        ``{"passages": n, "passages_without_evidence": m, "k": {k: {"precision", "hit_rate",
        "random_precision", "random_hit_rate", "random_expected_precision"}}}``; ``hit_rate`` is
        the share of passages with at least one hit among their top ``k``.

    Example:
        >>> rows = [{"id": "a", "text": "A shocking lie today", "labels": ["B"],
        ...          "evidence": {"B": [{"text": "shocking lie", "weight": 0.3}]}}]
        >>> r = evidence_precision(rows, {"a": ["lie"]}, label="B", ks=(1,))
        >>> r["k"]["1"]["precision"], r["passages"]
        (0.0, 1)
    """
    rng = random.Random(seed)
    per_k: dict[int, dict[str, list[float]]] = {k: {"p": [], "hit": [], "rp": [], "rhit": [], "ep": []}
                                               for k in ks}
    used = without = 0
    for row in rows:
        rid = str(row.get("id"))
        # a record longer than the model's window is scored as pieces ID#0, ID#1, ...
        words = gold.get(rid, gold.get(rid.rsplit("#", 1)[0], []))
        words_gold = {_norm(w) for w in words if _norm(w)}
        if label not in (row.get("labels") or []) or not words_gold:
            continue
        spans = sorted((row.get("evidence") or {}).get(label) or [], key=lambda s: -float(s["weight"]))
        ranked: list[str] = []
        for span in spans:
            for m in WORD.finditer(span["text"]):
                w = _norm(m.group())
                if w and w not in ranked:
                    ranked.append(w)
        sentence = [_norm(m.group()) for m in WORD.finditer(row.get("text") or "")]
        sentence = [w for w in sentence if w]
        if not ranked or not sentence:
            without += 1
            continue
        used += 1
        hits_in_sentence = sum(w in words_gold for w in sentence)
        for k in ks:
            top = ranked[:k]
            n = len(top)
            hits = sum(w in words_gold for w in top)
            per_k[k]["p"].append(hits / n)
            per_k[k]["hit"].append(float(hits > 0))
            n_rand = min(n, len(sentence))
            rp = rh = 0.0
            for _ in range(draws):
                pick = rng.sample(range(len(sentence)), n_rand)
                h = sum(sentence[i] in words_gold for i in pick)
                rp += h / n_rand
                rh += h > 0
            per_k[k]["rp"].append(rp / draws)
            per_k[k]["rhit"].append(rh / draws)
            per_k[k]["ep"].append(hits_in_sentence / len(sentence))

    def mean(v: list[float]) -> float | None:
        return round(sum(v) / len(v), 4) if v else None

    return {"label": label, "passages": used, "passages_without_evidence": without, "draws": draws,
            "seed": seed,
            "k": {str(k): {"precision": mean(d["p"]), "hit_rate": mean(d["hit"]),
                           "random_precision": mean(d["rp"]), "random_hit_rate": mean(d["rhit"]),
                           "random_expected_precision": mean(d["ep"])} for k, d in per_k.items()}}


# --------------------------------------------------------------------------- one task

def _mean_sd(values: Sequence[float | None]) -> dict[str, Any]:
    v = [float(x) for x in values if x is not None]
    if not v:
        return {"mean": None, "sd": None, "n": 0}
    return {"mean": round(statistics.fmean(v), 4), "sd": round(statistics.stdev(v), 4) if len(v) > 1 else 0.0,
            "n": len(v), "values": [round(x, 4) for x in v]}


def _system_summary(block: dict[str, Any]) -> dict[str, Any]:
    o = block["overall"]
    out = {k: o.get(k) for k in ("micro_f1", "macro_f1", "micro_precision", "micro_recall",
                                 "weighted_f1", "samples_f1", "accuracy")}
    ci = block.get("intervals") or {}
    out["micro_f1_ci"] = [ci.get("micro_f1", {}).get("low"), ci.get("micro_f1", {}).get("high")]
    out["macro_f1_ci"] = [ci.get("macro_f1", {}).get("low"), ci.get("macro_f1", {}).get("high")]
    out["per_label"] = {lab: {k: d.get(k) for k in ("f1", "precision", "recall", "support", "predicted",
                                                     "threshold", "threshold_source", "average_precision")}
                        for lab, d in block["per_label"].items()}
    return out


def _read_metrics(report_dir: Path) -> dict[str, Any]:
    m = json.loads((report_dir / "metrics.json").read_text(encoding="utf-8"))
    out = {"model": _system_summary(m["systems"]["model"]),
           "units": m["data"]["units"], "pieces": m["data"]["pieces"],
           "data_fingerprint": m["data"]["fingerprint"],
           "score_seconds": m["systems"]["model"].get("score_seconds"),
           "precision": m["settings"].get("precision"),
           "comparisons": [{k: c.get(k) for k in ("b", "metric", "difference", "p_value")}
                           for c in m.get("comparisons", [])]}
    if "baseline" in m["systems"]:
        out["baseline"] = _system_summary(m["systems"]["baseline"])
    else:
        out["baseline_skipped"] = m.get("baseline_skipped")
    return out


def _read_artifact(model_dir: Path) -> dict[str, Any]:
    meta = json.loads((model_dir / "framescope.json").read_text(encoding="utf-8"))
    keep = {k: meta.get(k) for k in ("problem_type", "max_length", "seed", "base_model")}
    keep["training"] = meta.get("training")
    keep["metrics_dev"] = meta.get("metrics", {}).get("dev") if isinstance(meta.get("metrics"), dict) else None
    data = meta.get("data") or {}
    keep["data"] = {k: {kk: v.get(kk) for kk in ("paths", "fingerprint", "passages")}
                    for k, v in data.items() if isinstance(v, dict)}
    ts = meta.get("threshold_source") or {}
    keep["thresholds_tuned"] = sum(1 for v in ts.values() if v == "tuned")
    keep["thresholds_default"] = sum(1 for v in ts.values() if v != "tuned")
    return keep


def _setting(s: Settings, defaults: dict[str, Any], name: str) -> Any:
    """A training setting: the command line's value, else the task's (or variant's) default."""
    value = getattr(s, name)
    return value if value is not None else defaults.get(name)


def _train_command(task: Task, s: Settings, prep: Prepared, seed: int, model_dir: Path) -> list[str]:
    d = task.defaults
    cmd = [*framescope_exe(), "train", "--train", *prep.train]
    if prep.dev:
        cmd += ["--dev", *prep.dev]
    tax = task.taxonomy if task.taxonomy == "infer" else str(TAXONOMIES / task.taxonomy)
    epochs = s.epochs if s.epochs is not None else d["epochs"]
    cmd += ["--taxonomy", tax, "--out", str(model_dir), "--seed", str(seed)]
    if epochs != "auto":  # auto: framescope train's own default (no flag)
        cmd += ["--epochs", f"{epochs:g}"]
    cmd += ["--max-length", str(s.max_length or d["max_length"])]
    lr = _setting(s, d, "lr")
    if lr is not None:
        cmd += ["--lr", f"{lr:g}"]
    if s.batch_size is not None:
        cmd += ["--batch-size", str(s.batch_size)]
    if s.max_minutes is not None:
        cmd += ["--max-minutes", f"{s.max_minutes:g}"]
    if s.precision is not None:
        cmd += ["--precision", s.precision]
    freeze_layers = _setting(s, d, "freeze_layers")
    if freeze_layers is not None:
        cmd += ["--freeze-layers", str(freeze_layers)]
    if s.base or d.get("base"):
        cmd += ["--base", s.base or d["base"]]
    return cmd + task.train_args + s.extra_train


def _eval_command(task: Task, s: Settings, prep: Prepared, model_dir: Path, out: Path,
                  extra: Sequence[str], reports: bool) -> list[str]:
    cmd = [*framescope_exe(), "evaluate", "--model", str(model_dir), "--data", *prep.eval_data,
           "--out", str(out), "--baseline", "tfidf", "--bootstrap", str(s.bootstrap), *extra]
    return cmd if reports else [*cmd, "--no-reports"]


def _seed_plan(task: Task, s: Settings, prep: Prepared, seed: int, cache: Path) -> dict[str, list[str]]:
    """The commands one seed runs, by step name, in order: train, evaluate (+ the extra
    aggregations), and for BABE the evidence scoring."""
    model_dir = cache / "models" / f"seed{seed}"
    plan = {f"train-seed{seed}": _train_command(task, s, prep, seed, model_dir),
            f"evaluate-seed{seed}": _eval_command(task, s, prep, model_dir, cache / "reports" / f"seed{seed}",
                                                  task.eval_args, reports=seed == s.seeds[0])}
    for name, extra in task.extra_evals.items():
        plan[f"evaluate-{name}-seed{seed}"] = _eval_command(
            task, s, prep, model_dir, cache / "reports" / f"seed{seed}-{name}", extra, reports=False)
    if task.fuse:
        fused = cache / "models" / f"seed{seed}-fused"
        plan[f"fuse-seed{seed}"] = [*framescope_exe(), "fuse", "--model", str(model_dir), "--out", str(fused)]
        plan[f"evaluate-fused-seed{seed}"] = _eval_command(
            task, s, prep, fused, cache / "reports" / f"seed{seed}-fused", task.eval_args, reports=False)
    if task.evidence and prep.evidence_data:
        plan[f"score-evidence-seed{seed}"] = [
            *framescope_exe(), "score", "--model", str(model_dir), *prep.evidence_data,
            "--out", str(cache / "scores" / f"seed{seed}.jsonl"), "--evidence", "--overwrite", "-q"]
    return plan


def _extra_names(task: Task) -> list[str]:
    """The names of a task's extra evaluations: its other aggregations, and ``fused``."""
    return [*task.extra_evals, *(["fused"] if task.fuse else [])]


def _finished_seed(path: Path, plan: dict[str, list[str]]) -> dict[str, Any] | None:
    """A seed finished by an earlier run of the same configuration (``--resume``), or None.

    A seed whose saved steps are the first steps of ``plan``, with the same commands, is returned
    too (``done["plan"]`` then lacks the later steps, which the caller runs): a recipe that gained
    a step after training (``fuse``) reuses the trained seeds.

    Raises:
        BenchError: when that seed was run with other commands (other flags under the same tag).
    """
    if not path.exists():
        return None
    done = json.loads(path.read_text(encoding="utf-8"))
    want = {name: display(cmd) for name, cmd in plan.items()}
    saved = done.get("plan") or {}
    if saved and list(want.items())[:len(saved)] == list(saved.items()):
        return done
    diff = [f"{name}: was `{saved.get(name)}`, now `{cmd}`"
            for name, cmd in want.items() if name in saved and saved[name] != cmd]
    raise BenchError(f"--resume: {display([path])} was made by other commands ("
                     + "; ".join(diff or ["other steps"]) + "). Run without --resume to start this "
                     "configuration over, or give the new one its own --tag.")


def run_task(task: Task, s: Settings) -> dict[str, Any]:
    """Prepare data, then train + evaluate (+ evidence) for every seed; returns the results.

    Each finished seed is saved atomically to ``CACHE/TAG/seeds/seedN.json``; with
    ``s.resume`` a seed saved by an earlier (interrupted) run of the same commands is reused
    instead of run again, and an unfinished one starts over from scratch.
    """
    name_tag = s.tag or s.variant
    tag = task.name + (f"--{name_tag}" if name_tag else "") + ("-smoke" if s.smoke else "")
    cache = s.cache / tag
    if cache.exists() and not s.resume:
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    steps: list[Step] = []
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    commit = git_commit()
    print(f"[{task.name}] preparing data", flush=True)
    prep = task.prepare(task, s, cache, steps)
    per_seed: list[dict[str, Any]] = []
    reused: dict[str, Any] = {}
    for i, seed in enumerate(s.seeds):
        model_dir = cache / "models" / f"seed{seed}"
        plan = _seed_plan(task, s, prep, seed, cache)
        saved = cache / "seeds" / f"seed{seed}.json"
        done = _finished_seed(saved, plan) if s.resume else None
        todo = {name: cmd for name, cmd in plan.items() if name not in (done or {}).get("plan", {})}
        if done is not None and todo:  # a seed trained before the recipe gained later steps
            if not model_dir.exists():
                raise BenchError(f"--resume: seed {seed} needs its model for {', '.join(todo)}, but "
                                 f"{display([model_dir])} was not kept; run without --resume")
            print(f"[{task.name}] seed {seed} ({i + 1}/{len(s.seeds)}): reusing its finished steps "
                  f"(commit {done['git_commit']}), running {', '.join(todo)}", flush=True)
            plan, done_before, done = todo, done, None
            reused[str(seed)] = {"finished": done_before["finished"], "git_commit": done_before["git_commit"],
                                 "seconds": round(sum(d["seconds"] for d in done_before["steps"]), 1),
                                 "steps_reused": list(done_before["plan"])}
        else:
            done_before = None
        if done is not None:
            print(f"[{task.name}] seed {seed} ({i + 1}/{len(s.seeds)}): reused, finished "
                  f"{done['finished']} at commit {done['git_commit']} ({display([saved])})", flush=True)
            steps += [Step.from_dict(d) for d in done["steps"]]
            reused[str(seed)] = {"finished": done["finished"], "git_commit": done["git_commit"],
                                 "seconds": round(sum(d["seconds"] for d in done["steps"]), 1)}
            per_seed.append(done["record"])
            continue
        fused_dir = cache / "models" / f"seed{seed}-fused"
        if done_before is None:
            print(f"[{task.name}] seed {seed} ({i + 1}/{len(s.seeds)})", flush=True)
            for leftover in (model_dir, fused_dir, cache / "reports" / f"seed{seed}",  # an interrupted attempt's
                             *(cache / "reports" / f"seed{seed}-{name}" for name in _extra_names(task))):
                shutil.rmtree(leftover, ignore_errors=True)
        else:
            shutil.rmtree(fused_dir, ignore_errors=True)
        seed_steps = [Step.from_dict(d) for d in done_before["steps"]] if done_before else []
        rec: dict[str, Any] = dict(done_before["record"]) if done_before else {"seed": seed}
        for name, cmd in plan.items():
            st = run_step(name, cmd, cache / "logs")
            seed_steps.append(st)
            kind = name.removesuffix(f"-seed{seed}")
            if kind == "train":
                rec["train"] = st.to_dict()
                rec["artifact"] = _read_artifact(model_dir)
            elif kind == "evaluate":
                rec["evaluate"] = st.to_dict()
                rec["metrics"] = _read_metrics(cache / "reports" / f"seed{seed}")
            elif kind == "fuse":
                fusion = json.loads((fused_dir / "framescope.json").read_text(encoding="utf-8"))["fusion"]
                rec["fuse"] = {"step": st.to_dict(), "weight": fusion["weight"],
                               "dev_micro_f1_by_weight": fusion["dev_micro_f1_by_weight"],
                               "dev_micro_f1_network_alone": fusion["dev_micro_f1_network_alone"]}
            elif kind.startswith("evaluate-"):
                extra = kind.removeprefix("evaluate-")
                rec.setdefault("extra_evals", {})[extra] = {
                    "step": st.to_dict(), "metrics": _read_metrics(cache / "reports" / f"seed{seed}-{extra}")}
            else:  # score-evidence
                scores = cache / "scores" / f"seed{seed}.jsonl"
                rows = [json.loads(line) for line in scores.read_text(encoding="utf-8").splitlines() if line]
                gold = {p.id: list(p.meta.get("biased_words") or []) for p in _load(prep.evidence_data[0])}
                ev = evidence_precision(rows, gold, label="Biased", seed=seed)
                ev["scored_passages"] = len(rows)
                rec["evidence"] = {"step": st.to_dict(), **ev}
        if not s.keep_models:
            shutil.rmtree(model_dir, ignore_errors=True)
            shutil.rmtree(fused_dir, ignore_errors=True)
        steps += seed_steps
        if done_before is not None:
            plan = {**{k: shlex.split(v) for k, v in done_before["plan"].items()}, **plan}
        _write_json(saved, {"plan": {name: display(cmd) for name, cmd in plan.items()}, "record": rec,
                            "steps": [st.to_dict() for st in seed_steps], "git_commit": git_commit(),
                            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
        per_seed.append(rec)
    total = time.perf_counter() - t_start + sum(r["seconds"] for r in reused.values())
    result = _assemble(task, s, prep, per_seed, steps, total, load_start)
    result["git_commit"] = commit
    if result["git_commit_end"] == commit:
        del result["git_commit_end"]
    if reused:
        result["resumed"] = {"seeds_reused": reused,
                             "note": "seeds (or, with steps_reused, their first steps) finished by an "
                                     "earlier run of the same commands (--resume); total_seconds adds "
                                     "their steps' wall time"}
    return result


def _assemble(task: Task, s: Settings, prep: Prepared, per_seed: list[dict[str, Any]], steps: list[Step],
              total: float, load_start: tuple[float, float, float]) -> dict[str, Any]:
    def collect(system: str, key: str, source: str | None = None) -> dict[str, Any]:
        vals = []
        for r in per_seed:
            m = r["metrics"] if source is None else r["extra_evals"][source]["metrics"]
            vals.append((m.get(system) or {}).get(key))
        return _mean_sd(vals)

    summary: dict[str, Any] = {}
    for system in ("model", "baseline"):
        summary[system] = {k: collect(system, k) for k in ("micro_f1", "macro_f1", "samples_f1", "accuracy")}
        labels = list(per_seed[0]["metrics"].get(system, {}).get("per_label", {}))
        summary[system]["per_label"] = {
            lab: {**_mean_sd([r["metrics"][system]["per_label"][lab]["f1"] for r in per_seed]),
                  "support": per_seed[0]["metrics"][system]["per_label"][lab]["support"]}
            for lab in labels}
    for name in _extra_names(task):
        summary[f"model:{name}"] = {k: collect("model", k, name) for k in ("micro_f1", "macro_f1")}
        summary[f"baseline:{name}"] = {k: collect("baseline", k, name) for k in ("micro_f1", "macro_f1")}
    if task.evidence:
        ev: dict[str, Any] = {"passages": _mean_sd([r["evidence"]["passages"] for r in per_seed])}
        for k in ("1", "3"):
            ev[k] = {m: _mean_sd([r["evidence"]["k"][k][m] for r in per_seed])
                     for m in ("precision", "hit_rate", "random_precision", "random_hit_rate",
                               "random_expected_precision")}
        summary["evidence"] = ev
    by_kind: dict[str, list[Step]] = {}
    for st in steps:
        kind = st.name.split("-seed")[0]
        by_kind.setdefault(kind, []).append(st)
    timing = {kind: {"seconds_each": [round(x.seconds, 1) for x in v],
                     "cpu_seconds_each": [round(x.cpu_seconds, 1) for x in v],
                     "peak_rss_mb_max": round(max(x.peak_rss_mb for x in v), 1)} for kind, v in by_kind.items()}
    primary = summary["model"][task.metric]["mean"]
    d = task.defaults
    config = {"epochs": s.epochs if s.epochs is not None else d["epochs"],
              "max_length": s.max_length or d["max_length"],
              "lr": _setting(s, d, "lr"), "batch_size": s.batch_size,
              "max_minutes": s.max_minutes, "precision": s.precision,
              "freeze_layers": _setting(s, d, "freeze_layers"),
              "base": s.base_name or (display([s.base]) if s.base else
                                      d.get("base_name") or d.get("base") or "default (all-MiniLM-L6-v2)"),
              "bootstrap": s.bootstrap,
              "seeds": s.seeds, "split_seed": SPLIT_SEED, **prep.info}
    first = per_seed[0]
    commands = {"prepare": [st.to_dict()["command"] for st in steps if st.name.startswith("prepare")],
                "train": first["train"]["command"], "evaluate": first["evaluate"]["command"]}
    for name in _extra_names(task):
        commands[f"evaluate ({name})"] = first["extra_evals"][name]["step"]["command"]
    if task.fuse:
        commands["fuse"] = first["fuse"]["step"]["command"]
    if task.evidence:
        commands["score"] = first["evidence"]["step"]["command"]
    argv = ["python", "bench/quality.py", *sys.argv[1:]]
    return {
        "task": task.name, "title": task.title, "status": "ok", "smoke": s.smoke,
        "variant": s.tag or s.variant, "variant_of": s.variant,
        "variant_about": VARIANTS.get(s.variant or "", {}).get("about"),
        "scheme": task.scheme,
        "metric": task.metric,
        "reference": {"value": task.reference, "metric": task.metric, "source": task.reference_source},
        "gap_to_reference": None if primary is None else round(primary - task.reference, 4),
        "config": config,
        "bench_command": shlex.join(argv),
        "commands": commands,
        "data": {"train": [display([p]) for p in prep.train], "dev": [display([p]) for p in prep.dev],
                 "eval": [display([p]) for p in prep.eval_data],
                 "eval_units": first["metrics"]["units"], "eval_pieces": first["metrics"]["pieces"],
                 "eval_fingerprint": first["metrics"]["data_fingerprint"],
                 "train_recorded": first["artifact"]["data"]},
        "summary": summary,
        "seeds": per_seed,
        "timing": {"total_seconds": round(total, 1), "budget_seconds": TASK_BUDGET_S,
                   "cpu_seconds": round(sum(st.cpu_seconds for st in steps), 1),
                   "within_budget": total <= TASK_BUDGET_S, "steps": timing},
        "load": {"at_start": [round(x, 2) for x in load_start],
                 "at_end": [round(x, 2) for x in os.getloadavg()],
                 "max_1min_seen": round(max(st.load_max for st in steps), 2)},
        "machine": machine_facts(),
        "git_commit": git_commit(),
        "git_commit_end": git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "notes": prep.notes,
    }


# --------------------------------------------------------------------------- facts

def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_facts() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(),
                             "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
                             "python": platform.python_version(), "platform": platform.platform()}
    try:
        import torch

        from framescope.runtime import cpu_supports_bf16

        facts.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                     cuda=torch.cuda.is_available(), cpu_bf16=bool(cpu_supports_bf16()))
        if torch.cuda.is_available():
            facts["gpu"] = torch.cuda.get_device_name(0)
        import transformers

        facts["transformers"] = transformers.__version__
    except Exception as exc:  # facts are informative only
        facts["error"] = repr(exc)
    return facts


# --------------------------------------------------------------------------- RESULTS.md

def _fmt(ms: dict[str, Any] | None, digits: int = 3) -> str:
    if not ms or ms.get("mean") is None:
        return "n/a"
    if ms.get("n", 1) > 1:
        return f"{ms['mean']:.{digits}f} ± {ms['sd']:.{digits}f}"
    return f"{ms['mean']:.{digits}f}"


def _other_metric(metric: str) -> str:
    """The second F1 shown beside a task's primary metric: macro-F1 for micro-F1, else micro-F1."""
    return "macro_f1" if metric == "micro_f1" else "micro_f1"


def _extra_label(name: str) -> str:
    """How an extra evaluation is named in a table row."""
    return "fused with TF-IDF (`framescope fuse`)" if name == "fused" else f"{name} aggregation"


def _task_section(r: dict[str, Any], variants: list[dict[str, Any]]) -> list[str]:
    out = [f"## {r['title']}", ""]
    if r.get("status") != "ok":
        return [*out, f"Not run: {r.get('reason')}", ""]
    sm, cfg = r["summary"], r["config"]
    metric = r["metric"]
    ref = r["reference"]
    n = len(cfg["seeds"])
    out += [f"Scheme: {r['scheme']}.", "",
            f"| system | {metric.replace('_', '-')} (official/primary) | other F1 | seeds |",
            "|---|---|---|---|"]
    other = _other_metric(metric)
    main_label = (f"framescope, CPU budget ({_epochs(cfg['epochs'])} epoch, {cfg.get('train_fraction', 1):.0%} "
                  f"of train, max length {cfg['max_length']})")
    out.append(f"| {main_label} | **{_fmt(sm['model'][metric])}** | "
               f"{other.replace('_', '-')} {_fmt(sm['model'][other])} | {n} |")
    for key, s in sm.items():
        if key.startswith("model:"):
            out.append(f"| framescope, {_extra_label(key.split(':', 1)[1])} | {_fmt(s[metric])} | "
                       f"{other.replace('_', '-')} {_fmt(s[other])} | {n} |")
    out.append(f"| TF-IDF + logistic regression (same run, same data) | {_fmt(sm['baseline'][metric])} | "
               f"{other.replace('_', '-')} {_fmt(sm['baseline'][other])} | {n} |")
    for key, s in sm.items():
        if key.startswith("baseline:") and s[metric].get("values") != sm["baseline"][metric].get("values"):
            out.append(f"| TF-IDF, {_extra_label(key.split(':', 1)[1])} | {_fmt(s[metric])} | "
                       f"{other.replace('_', '-')} {_fmt(s[other])} | {n} |")
    out.append(f"| published reference | {ref['value']:.3f} | | |")
    variants = sorted((v for v in variants if v.get("status") == "ok"),
                      key=lambda v: (v.get("variant_of") != "gpu-full", v.get("variant_of") != v["variant"],
                                     v["variant"]))
    baselines_shown = [sm["baseline"][metric].get("values")]
    for v in variants:
        vs = v["summary"]
        tag_only = not v.get("variant_of") and v["variant"] not in VARIANTS  # --tag with other flags
        label = ("framescope" if tag_only else VARIANTS.get(v.get("variant_of") or v["variant"], {}).get("label")
                 or f"improvement try: `{v['variant']}`")
        if (v["variant"] != v.get("variant_of") and v.get("variant_of")) or tag_only:
            vc = v["config"]
            lr = vc.get("lr")
            share = vc.get("train_fraction", 1)
            label += (f", {'all training data' if share >= 1 else f'{share:.0%} of train'}"
                      if share != cfg.get("train_fraction", 1) else "")
            label += f", {_epochs(vc['epochs'])} epochs" if vc["epochs"] != cfg["epochs"] else ""
            label += f", max length {vc['max_length']}" if vc["max_length"] != cfg["max_length"] else ""
            label += f", backbone {vc.get('base')}" if vc.get("base") != cfg.get("base") else ""
            label += (f", learning rate {lr:g}" if lr else "") + f" (`{v['variant']}`)"
        out.append(f"| {label} | {_fmt(vs['model'][metric])} | "
                   f"{other.replace('_', '-')} {_fmt(vs['model'][other])} | {len(v['config']['seeds'])} |")
        for key, x in vs.items():
            if key.startswith("model:"):
                out.append(f"| {label}, {_extra_label(key.split(':', 1)[1])} | {_fmt(x[metric])} | "
                           f"{other.replace('_', '-')} {_fmt(x[other])} | {len(v['config']['seeds'])} |")
        if vs["baseline"][metric].get("values") not in baselines_shown:
            baselines_shown.append(vs["baseline"][metric].get("values"))
            out.append(f"| TF-IDF, same data as `{v['variant']}` | {_fmt(vs['baseline'][metric])} | "
                       f"{other.replace('_', '-')} {_fmt(vs['baseline'][other])} | "
                       f"{len(v['config']['seeds'])} |")
    gap = r.get("gap_to_reference")
    out += ["", f"Reference: {ref['source']}. Gap (ours − reference): "
                f"{'n/a' if gap is None else f'{gap:+.3f}'}. Mean ± sample sd over seeds "
                f"{', '.join(map(str, cfg['seeds']))}; one seed's 95% bootstrap CI of the primary metric: "
                f"{_ci(r)}.", ""]
    for v in variants:
        vc, vm = v["config"], v["machine"]
        where = _where(vm)
        lr = f", learning rate {vc['lr']:g}" if vc.get("lr") else ""
        lr += f", time budget {vc['max_minutes']:g} min of training per seed" if vc.get("max_minutes") else ""
        lr += f", trained in {vc['precision']} (--precision)" if vc.get("precision") else ""
        lr += (f", lowest {vc['freeze_layers']} layers frozen (--freeze-layers)" if vc.get("freeze_layers")
               else ", every transformer layer trained (--freeze-layers 0; word embeddings frozen)" if vc.get("freeze_layers") == 0 else "")
        run = [((x.get("artifact") or {}).get("training") or {}) for x in v.get("seeds", [])]
        ran = ("; epochs run " + ", ".join(str(t.get("epochs_run")) for t in run) + " (best "
               + ", ".join(str(t.get("best_epoch")) for t in run) + ")") if run and all(run) else ""
        peak = max((x["peak_rss_mb_max"] for x in v["timing"]["steps"].values()), default=0)
        about = v.get("variant_about") or "the main rows' recipe with these settings"
        out.append(f"`{v['variant']}`: {about}. Settings: {_epochs(vc['epochs'])} epoch(s) "
                   f"max{ran}, max length {vc['max_length']}, train share {vc.get('train_fraction', 1):.0%}{lr}, "
                   f"backbone {vc.get('base')}; ran on {where} in {v['timing']['total_seconds'] / 60:.1f} min for "
                   f"{len(vc['seeds'])} seed(s), peak RSS of a step {peak:.0f} MiB "
                   f"(`{v['bench_command']}`, commit `{v['git_commit']}`{_reused(v)}).")
        out += [f"{x}" for x in v.get("remarks", [])]
        out.append("")
    if "evidence" in sm:
        ev = sm["evidence"]
        out += ["Word-level evidence (`framescope score --evidence`, occlusion) on test sentences "
                "predicted Biased that have annotated `biased_words` "
                f"({_fmt(ev['passages'], 0)} sentences a seed):", "",
                "| k | precision@k (evidence) | precision@k (random words) | hit@k (evidence) | "
                "hit@k (random) |", "|---|---|---|---|---|"]
        for k in ("1", "3"):
            e = ev[k]
            out.append(f"| {k} | {_fmt(e['precision'])} | {_fmt(e['random_precision'])} | "
                       f"{_fmt(e['hit_rate'])} | {_fmt(e['random_hit_rate'])} |")
        out += ["", "precision@k: share of the top-k evidence words that are annotated biased words; "
                "hit@k: share of sentences with at least one annotated word in the top k. The random "
                "baseline draws as many distinct words from the same sentence (200 seeded draws).", ""]
    out += _per_label_block(sm, "Per-label F1 (mean ± sd over seeds)")
    for v in variants:
        if v["config"].get("train_fraction", 1) >= 1:  # the all-data runs: where the rare labels stand
            out += _per_label_block(v["summary"], f"Per-label F1 of `{v['variant']}` (mean ± sd over seeds)")
    t = r["timing"]
    steps = t["steps"]
    train_s = steps.get("train", {}).get("seconds_each", [])
    eval_s = steps.get("evaluate", {}).get("seconds_each", [])
    peak = max((v["peak_rss_mb_max"] for v in steps.values()), default=0)
    out += [f"Settings: {cfg['epochs']} epoch(s), max length {cfg['max_length']}, train share "
            f"{cfg.get('train_fraction', 1):.0%}, backbone {cfg['base']}, bootstrap {cfg['bootstrap']}. "
            f"Data: train {', '.join(r['data']['train'])}; evaluated on {', '.join(r['data']['eval'])} "
            f"({r['data']['eval_units']} units, {r['data']['eval_pieces']} passages scored).", "",
            f"Cost: {t['total_seconds'] / 60:.1f} min of wall time for {n} seed(s) (budget "
            f"{t['budget_seconds'] / 60:.0f} min: {'within' if t['within_budget'] else 'over, as measured'}); train "
            f"{', '.join(f'{x:.0f}' for x in train_s)} s; evaluate {', '.join(f'{x:.0f}' for x in eval_s)} s; "
            f"peak RSS of a step's process tree {peak:.0f} MiB. {_cpu_line(r)}"
            f"Load average (1 min) {r['load']['at_start'][0]} "
            f"at start, up to {r['load']['max_1min_seen']} during the run"
            + (" — the CPU was shared with other jobs, so times are inflated." if r['load']['max_1min_seen']
               > (r['machine'].get('cores') or 2) + 0.5 else ".") , ""]
    out += ["Commands (first seed; the others differ only in `--seed` and paths):", "", "```"]
    for c in r["commands"].values():
        if isinstance(c, list):
            out += c
        else:
            out.append(c)
    out += ["```", ""]
    remarks = [*r.get("notes", []), *TASK_SPECS[r["task"]].remarks]
    if remarks:
        out += [f"- {n_}" for n_ in remarks] + [""]
    end = f" (`{r['git_commit_end']}` when it ended)" if r.get("git_commit_end") else ""
    out += [f"Run `{r['bench_command']}` at commit `{r['git_commit']}`{end} on {r['date'][:10]}{_reused(r)}.", ""]
    return out


def _per_label_block(sm: dict[str, Any], title: str) -> list[str]:
    """A collapsed per-label F1 table (framescope beside TF-IDF) for tasks with more than two labels."""
    pl_model, pl_base = sm["model"].get("per_label") or {}, sm["baseline"].get("per_label") or {}
    if len(pl_model) <= 2:
        return []
    out = [f"<details><summary>{title}</summary>", "",
           "| label | support | framescope | TF-IDF |", "|---|---|---|---|"]
    for lab, d in sorted(pl_model.items(), key=lambda kv: -(kv[1].get("support") or 0)):
        out.append(f"| {lab} | {d['support']} | {_fmt(d)} | {_fmt(pl_base.get(lab))} |")
    return [*out, "", "</details>", ""]


def _cpu_line(r: dict[str, Any]) -> str:
    cpu = r["timing"].get("cpu_seconds")
    if cpu is None:  # results written before the total was recorded: add up the seeds' steps
        cpu = 0.0
        for rec in r.get("seeds", []):
            steps = [rec.get("train"), rec.get("evaluate"), (rec.get("evidence") or {}).get("step"),
                     *[e.get("step") for e in (rec.get("extra_evals") or {}).values()]]
            cpu += sum(st.get("cpu_seconds", 0.0) for st in steps if st)
    cores = r["machine"].get("cores") or 1
    if not cpu or r["machine"].get("cuda"):
        return ""
    idle = cpu / cores / 60
    verdict = "within" if idle * 60 <= r["timing"]["budget_seconds"] else "over"
    return (f"CPU time of all steps {cpu / 60:.1f} CPU-min, i.e. about {idle:.0f} min of wall time on "
            f"{cores} idle cores, {verdict} the budget (an estimate; busy-waiting threads inflate CPU time "
            "under load). ")


def _ci(r: dict[str, Any]) -> str:
    try:
        lo, hi = r["seeds"][0]["metrics"]["model"][f"{r['metric']}_ci"]
        return f"[{lo:.3f}, {hi:.3f}]"
    except (KeyError, IndexError, TypeError):
        return "n/a"


def _where(machine: dict[str, Any]) -> str:
    """Where a run ran: the GPU, or the CPU and its cores."""
    return str(machine.get("gpu")) if machine.get("cuda") else f"{machine.get('cpu')}, {machine.get('cores')} cores"


def _run_cells(r: dict[str, Any]) -> dict[str, str]:
    """The cost and setting cells of one quality.py result (main row or variant) for the side-by-side table."""
    cfg, m = r["config"], r["machine"]
    run = [((x.get("artifact") or {}).get("training") or {}) for x in r.get("seeds", [])]
    epochs = (", ".join(f"{t.get('epochs_run')} ({t.get('best_epoch')})" for t in run)
              if run and all(t.get("epochs_run") for t in run) else f"{_epochs(cfg['epochs'])}")
    peak = max((x["peak_rss_mb_max"] for x in r["timing"]["steps"].values()), default=0)
    share = cfg.get("train_fraction", 1)
    base = str(cfg.get("base"))
    precision = sorted({str(t["precision"]) for t in run if t.get("precision")})
    return {"hardware": _where(m) + "".join(f", {x}" for x in precision),
            "backbone": base[len("default ("):-1] if base.startswith("default (") else base,
            "data": "all" if share >= 1 else f"{share:.0%}", "epochs": epochs,
            "max_length": str(cfg["max_length"]),
            "wall": f"{r['timing']['total_seconds'] / 60:.1f} min", "peak": f"{peak / 1024:.1f} GiB",
            "command": r["bench_command"]}


def _strength_table(found: dict[str, dict[str, Any]], variants: dict[str, list[dict[str, Any]]],
                    results_dir: Path) -> list[str]:
    """Budget rows and every all-training-data row of each task side by side, with hardware and cost."""
    rows: list[str] = []
    for name in TASKS:
        r = found.get(name)
        if not r or r.get("status") != "ok":
            continue
        metric = r["metric"]
        other = _other_metric(metric)
        runs = [("CPU budget (main row)", r)]
        runs += [(f"`{v['variant']}`", v) for v in sorted(variants.get(name, []), key=lambda v: v["variant"])
                 if v.get("status") == "ok" and not v.get("smoke") and v["config"].get("train_fraction", 1) >= 1]
        for label, x in runs:
            c = _run_cells(x)
            sm = x["summary"]
            rows.append(f"| {name} | {label} | {_fmt(sm['model'][metric])} | "
                        f"{_fmt(sm['baseline'][metric])} | {other.replace('_', '-')} "
                        f"{_fmt(sm['model'].get(other))} / {_fmt(sm['baseline'].get(other))} | "
                        f"{len(x['config']['seeds'])} seeds | "
                        f"{c['hardware']} | {c['backbone']} | {c['data']} | {c['epochs']} | {c['max_length']} | "
                        f"{c['wall']} | {c['peak']} | `{c['command']}` |")
            if "model:fused" in sm:  # the same models fused with TF-IDF, evaluated in the same run
                fused, base = sm["model:fused"], sm.get("baseline:fused") or sm["baseline"]
                rows.append(f"| {name} | {label}, {_extra_label('fused')} | {_fmt(fused[metric])} | "
                            f"{_fmt(base[metric])} | {other.replace('_', '-')} {_fmt(fused.get(other))} / "
                            f"{_fmt(base.get(other))} | {len(x['config']['seeds'])} seeds | {c['hardware']} | "
                            f"{c['backbone']} + TF-IDF | {c['data']} | {c['epochs']} | {c['max_length']} | "
                            f"{c['wall']} (with fusing) | {c['peak']} | `{c['command']}` |")
        cv_path = results_dir / "babe_cv.json"
        if name == "babe" and cv_path.exists():
            try:
                cv = json.loads(cv_path.read_text(encoding="utf-8"))
                m, folds = cv["machine"], cv["per_fold"]
                epochs = ", ".join(f"{f.get('epochs_run')} ({f.get('best_epoch')})" for f in folds)
                peak = max(f.get("peak_rss_mb") or 0 for f in folds)
                rows.append(f"| babe | {cv['folds']}-fold CV, whole corpus (`bench/babe_cv.py`) | "
                            f"{_fmt(cv['macro_f1'])} | {_fmt(cv['tfidf_macro_f1'])} | n/a | {cv['folds']} folds | "
                            f"{_where(m)} | "
                            f"{cv['base']} | all (4 of 5 folds) | {epochs} | 128 | {cv['minutes']:.1f} min | "
                            f"{peak / 1024:.1f} GiB | `python bench/babe_cv.py` |")
            except (OSError, KeyError, TypeError, json.JSONDecodeError):
                pass
    if not rows:
        return []
    return ["### CPU budget and all-training-data rows side by side", "",
            "The main rows above are the CPU budget (a share of the training data, 1 epoch). Each run on all the "
            "training data follows it, with where it ran and what it cost; the TF-IDF column is the baseline "
            "trained on the same data in the same run. The other F1 column is the task's second metric (macro-F1 "
            "where the primary is micro-F1, and the reverse), framescope / TF-IDF: micro-F1 is dominated by the "
            "frequent labels, macro-F1 weighs every label alike. Epochs: run (best) per seed. Peak: the largest "
            "resident memory of one step's process tree. Per-label figures and details are in each task's "
            "section.", "",
            "| task | run | framescope | TF-IDF | other F1, framescope / TF-IDF | n | hardware | backbone | "
            "train data | epochs run (best) | max length | wall time | peak RSS | command |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, ""]


def render_results(results_dir: Path = RESULTS_DIR, out: Path = RESULTS_MD) -> Path:
    """Regenerate the Markdown summary from every ``TASK.json`` in ``results_dir``."""
    from framescope.data.io import atomic_write_text

    found: dict[str, dict[str, Any]] = {}
    variants: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            r = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if r.get("task") not in TASK_SPECS:
            continue
        if r.get("variant"):
            variants.setdefault(r["task"], []).append(r)
        elif r["task"] not in found or found[r["task"]].get("smoke") or found[r["task"]].get("status") != "ok":
            found[r["task"]] = r  # a full run wins over a smoke run or a skip note
    lines = ["# Quality benchmarks on public data", "",
             "Generated by `python bench/quality.py` from `bench/results/*.json` and "
             "`bench/results/NOTES.md` (do not edit by hand; `python bench/quality.py --render` "
             "rebuilds it). Every number comes from the public command line (`framescope data split`, "
             "`framescope train`, `framescope evaluate --baseline tfidf`, `framescope score --evidence`) "
             "run as subprocesses on the public data in `../shared/data` (not part of this repository). "
             "See `docs/benchmarks.md` for the method.", ""]
    any_r = next((r for r in found.values() if r.get("status") == "ok"), None)
    if any_r:
        m = any_r["machine"]
        lines += [f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB RAM, "
                  f"torch {m.get('torch')} ({m.get('torch_threads')} threads), transformers "
                  f"{m.get('transformers')}, native bf16: {m.get('cpu_bf16')}, CUDA: {m.get('cuda')}.", ""]
        lines += ["| task | primary metric | framescope | TF-IDF baseline | reference | gap |",
                  "|---|---|---|---|---|---|"]
        for name in TASKS:
            r = found.get(name)
            if not r or r.get("status") != "ok":
                continue
            metric = r["metric"]
            gap = r.get("gap_to_reference")
            lines.append(f"| {name} | {metric.replace('_', '-')} | {_fmt(r['summary']['model'][metric])} | "
                         f"{_fmt(r['summary']['baseline'][metric])} | {r['reference']['value']:.3f} | "
                         f"{'n/a' if gap is None else f'{gap:+.3f}'} |")
        lines.append("")
        lines += _strength_table(found, variants, results_dir)
    real = results_dir / "real-war.md"  # written by bench/real_quality.py
    if real.exists():
        lines += [real.read_text(encoding="utf-8").rstrip(), ""]
    for name in TASKS:
        if name in found:
            lines += _task_section(found[name], variants.get(name, []))
        elif name in variants:
            lines += [f"## {name}", "", "Only improvement runs recorded.", ""]
    extra = results_dir / "NOTES.md"
    if extra.exists():
        lines += [extra.read_text(encoding="utf-8").rstrip(), ""]
    # the sections other bench scripts write (bench/_common.write_section) follow this marker and
    # are kept as they are
    tail = ""
    if out.exists():
        old = out.read_text(encoding="utf-8")
        if OTHERS_MARKER in old:
            tail = old[old.index(OTHERS_MARKER) + len(OTHERS_MARKER):].strip("\n")
    lines += [OTHERS_MARKER, ""] + ([tail, ""] if tail else [])
    atomic_write_text(out, "\n".join(lines).rstrip() + "\n")
    return out


# --------------------------------------------------------------------------- CLI

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Train and evaluate framescope on public benchmark data (../shared/data) through "
                    "the public CLI, next to a TF-IDF baseline and published figures. Writes "
                    "bench/results/TASK.json and regenerates bench/RESULTS.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python bench/quality.py --task all\n"
               "  python bench/quality.py --task semeval-frames --seeds 1 --epochs 1\n"
               "  python bench/quality.py --task babe --smoke --base /path/to/tiny-model\n"
               "  python bench/quality.py --render")
    p.add_argument("--task", choices=(*TASKS, "all"), help="which benchmark to run")
    p.add_argument("--seeds", type=int, default=3, help="number of training seeds (default 3: 0, 1, 2)")
    p.add_argument("--epochs", type=float, default=None, help="training epochs (default: the task's)")
    p.add_argument("--max-length", type=int, default=None, help="max tokens per passage (default: the task's)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: framescope train's)")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size (default: train's)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="time budget per seed: framescope train's --max-minutes (no new epoch starts "
                        "after this many minutes; the best epoch so far is kept; default: none)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=None,
                   help="framescope train's --precision (default: train's, auto: bf16 where the "
                        "hardware has native bf16, else fp32); pin it to compare runs across machines")
    p.add_argument("--freeze-layers", type=int, default=None, metavar="N",
                   help="framescope train's --freeze-layers (default: train's, half of the backbone's "
                        "layers; 0 fine-tunes them all)")
    p.add_argument("--train-fraction", type=float, default=None,
                   help="share of the training data to train on (grouped, stratified; default: the task's)")
    p.add_argument("--base", default=None, help="backbone folder (default: the bundled MiniLM)")
    p.add_argument("--base-name", default=None,
                   help="how to name the --base backbone in the results (default: its path)")
    p.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples (default 1000; smoke 100)")
    p.add_argument("--variant", choices=sorted(VARIANTS), default=None,
                   help="an improvement experiment; writes bench/results/TASK--VARIANT.json")
    p.add_argument("--full", action="store_true",
                   help="full strength: all training data and each task's best measured recipe "
                        "(persuasion: every layer trained; frames: multiple-instance; BABE: mpnet, "
                        "lr 2e-5, every layer trained); the same as --variant full")
    p.add_argument("--tag", default=None,
                   help="name of this configuration in the results file (TASK--TAG.json; default: "
                        "the variant's name)")
    p.add_argument("--smoke", action="store_true",
                   help="a fast check: a few hundred examples, 1 epoch, 1 seed (use with --base TINY)")
    p.add_argument("--keep-models", action="store_true", help="keep the trained models in the cache")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run of the same configuration: seeds it finished "
                        "(CACHE/TASK--TAG/seeds/) are reused, not run again, if their commands are "
                        "the same; without it the cache of the configuration starts empty")
    p.add_argument("--cache", type=Path, default=CACHE, help="folder for derived data (default bench/.cache)")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where TASK.json goes")
    p.add_argument("--results-md", type=Path, default=None,
                   help="the Markdown summary to regenerate (default RESULTS-DIR/../RESULTS.md)")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder holding the public datasets (default ../shared/data beside the repo)")
    p.add_argument("--render", action="store_true", help="only regenerate the Markdown from results")
    args = p.parse_args(argv)
    if not args.render and not args.task:
        p.error("give --task NAME (or all), or --render")
    if args.full:
        if args.variant not in (None, "full"):
            p.error(f"--full is --variant full; it cannot be combined with --variant {args.variant}")
        args.variant = "full"
    if args.freeze_layers is not None and args.freeze_layers < 0:
        p.error(f"--freeze-layers must be 0 or more, got {args.freeze_layers}")
    if args.train_fraction is not None and not 0 < args.train_fraction <= 1:
        p.error(f"--train-fraction must be in (0, 1], got {args.train_fraction}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data_root = (args.data_root or SHARED).resolve()
    results_md = args.results_md or (args.results_dir.parent / "RESULTS.md"
                                     if args.results_dir != RESULTS_DIR else RESULTS_MD)
    if args.render:
        print(f"wrote {render_results(args.results_dir, results_md)}")
        return 0
    tasks = list(TASKS) if args.task == "all" else [args.task]
    settings = Settings(
        seeds=list(range(1 if args.smoke else args.seeds)),
        epochs=1 if args.smoke and args.epochs is None else args.epochs,
        max_length=64 if args.smoke and args.max_length is None else args.max_length,
        lr=args.lr, batch_size=args.batch_size, max_minutes=args.max_minutes,
        precision=args.precision, freeze_layers=args.freeze_layers, train_fraction=args.train_fraction,
        base=args.base,
        base_name=args.base_name,
        bootstrap=args.bootstrap or (100 if args.smoke else 1000), smoke=args.smoke,
        keep_models=args.keep_models, resume=args.resume, cache=args.cache.resolve(), results_dir=args.results_dir,
        results_md=results_md, variant=args.variant, tag=args.tag, data_root=data_root)
    if args.variant:
        settings.extra_train = list(VARIANTS[args.variant].get("train", []))
    missing = _missing_backbones(tasks, args.variant, settings)
    if missing:
        for msg in missing:
            print(msg, file=sys.stderr)
        return 2
    args.results_dir.mkdir(parents=True, exist_ok=True)
    status = 0
    for name in tasks:
        task = effective_task(TASK_SPECS[name], args.variant)
        name_tag = args.tag or args.variant
        suffix = (f"--{name_tag}" if name_tag else "") + ("-smoke" if args.smoke else "")
        out = args.results_dir / f"{name}{suffix}.json"
        if not (data_root / task.folder).exists():
            print(f"[{name}] skipped: data not found at {data_root / task.folder} (the public benchmark "
                  "data lives in ../shared/data beside the repository, or pass --data-root)")
            if not out.exists():
                _write_json(out, {"task": name, "title": task.title, "status": "skipped",
                                  "reason": f"data not found at {display([data_root / task.folder])}"})
            continue
        try:
            result = run_task(task, settings)
        except BenchError as exc:
            print(f"[{name}] FAILED: {exc}", file=sys.stderr)
            status = 1
            continue
        _write_json(out, result)
        sm = result["summary"]
        print(f"[{name}] {task.metric}: framescope {_fmt(sm['model'][task.metric])} | TF-IDF "
              f"{_fmt(sm['baseline'][task.metric])} | reference {task.reference:.3f} | "
              f"{result['timing']['total_seconds'] / 60:.1f} min -> {out}", flush=True)
    if not args.smoke or args.results_dir != RESULTS_DIR:
        print(f"wrote {render_results(args.results_dir, results_md)}")
    return status


def _missing_backbones(tasks: Sequence[str], variant: str | None, s: Settings) -> list[str]:
    """Messages for the tasks whose backbone cannot be loaded here (say, ``--full``'s mpnet not
    installed), found before any training so that ``--task all`` does not fail hours in."""
    from framescope.data.errors import DataError
    from framescope.modeling import resolve_base

    out = []
    for name in tasks:
        base = s.base or effective_task(TASK_SPECS[name], variant).defaults.get("base")
        if not base or not (s.data_root / TASK_SPECS[name].folder).exists():
            continue  # the bundled MiniLM, or a task skipped anyway for want of data
        try:
            resolve_base(base)
        except DataError as exc:
            out.append(f"[{name}] cannot run: backbone {base!r}: {exc}. Install it, or pass "
                       "--base minilm (or another local model folder) to run on another backbone.")
    return out


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    from framescope.data.io import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
