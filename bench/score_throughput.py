"""Throughput of `framescope score` against the plain transformers pipeline, in one process.

On the same passages (sentences and paragraphs separately, 2,000 each by default) it times

* ``transformers.pipeline("text-classification", top_k=None)`` with default settings, and
* ``framescope score`` end to end (reading the JSONL input, splitting, scoring, writing the
  output) at ``--precision auto`` and the opt-in precisions ``int8`` and ``onnx``; ``bf16`` is
  timed on a subset (it is slow on CPUs without native bf16),

and prints passages/s, the speed-up over the pipeline and the decision agreement with fp32
framescope (share of equal passage×label decisions, and of passages whose whole label set is
equal). Results go to ``bench/results/score_throughput.json``.

The model is ``models/default`` when it exists, else an *untrained* artifact on the bundled
all-MiniLM-L6-v2 (same architecture and cost; its scores sit near 0.5, so agreement figures
for approximate precisions are pessimistic). Passages come from ``data/seed`` and
``data/samples`` (synthetic text when those are absent).

    python bench/score_throughput.py                 # full run (~10-20 min on 2 cores)
    python bench/score_throughput.py --n 300 --sets sentences --precisions auto int8   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "score_throughput.json"
SYNTHETIC_WORDS = ("the army said shelling hit the port city as talks on a ceasefire stalled while "
                   "sanctions squeezed exports and aid groups warned of refugees crossing the border "
                   "officials blamed western weapons deliveries for escalation")


def resolve_model(path: Path, workdir: Path) -> tuple[Path, str]:
    """The trained default model, or an untrained MiniLM artifact built in ``workdir``."""
    if (path / "framescope.json").exists():
        return path, f"trained model {path}"
    import torch

    from framescope.data import DEFAULT_TAXONOMY, load_taxonomy
    from framescope.modeling import Artifact, build_model, resolve_base, save_artifact

    torch.manual_seed(0)
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    model, tok = build_model(resolve_base(None), tax)
    art = Artifact(model, tok, tax, dict.fromkeys(tax.ids, 0.5),
                   {"name": "untrained-minilm", "max_length": 256, "problem_type": "multi_label"})
    out = save_artifact(art, workdir / "untrained-minilm")
    return out, (f"{path} not found: UNTRAINED artifact on all-MiniLM-L6-v2 (random head, "
                 "thresholds 0.5; same speed as a trained one, agreement figures pessimistic)")


def source_texts() -> tuple[list[str], str]:
    """Paragraph texts from the bundled seed data and sample articles (or synthetic text)."""
    from framescope.data import read_passages
    from framescope.data.passages import paragraph_spans

    paths = sorted((ROOT / "data" / "seed").rglob("*.jsonl"))
    paths += [p for p in (ROOT / "data" / "samples" / "feed.xml",
                          ROOT / "data" / "samples" / "articles.jsonl") if p.exists()]
    texts: list[str] = []
    if paths:
        for rec in read_passages(paths, on_error="collect", check_duplicates=False):
            texts.extend(rec.text[s:e] for s, e in paragraph_spans(rec.text))
    if len(texts) >= 200:
        return texts, f"{len(paths)} files under data/seed and data/samples"
    rng = random.Random(0)
    words = SYNTHETIC_WORDS.split()
    synth = []
    for _ in range(4000):
        sents = [" ".join(rng.choice(words) for _ in range(rng.randint(8, 24))).capitalize() + "."
                 for _ in range(rng.randint(1, 6))]
        synth.append(" ".join(sents))
    return synth, "synthetic text (data/seed and data/samples not found)"


def passage_sets(texts: list[str], n: int, count_tokens, budget: int) -> dict[str, list[str]]:
    """``n`` sentences and ``n`` paragraphs, each within the model's token budget."""
    from framescope.data import Passage, cut_article
    from framescope.data.passages import sentence_spans

    def fit(pieces: list[str]) -> list[str]:
        out = []
        for i, t in enumerate(pieces):
            out.extend(p.text for p in cut_article(Passage(id=str(i), text=t), max_tokens=budget,
                                                     count_tokens=count_tokens))
        return out

    paragraphs = fit(texts)
    sentences = [t[s:e] for t in texts for s, e in sentence_spans(t, 0, len(t))]
    sentences = fit([s for s in sentences if len(s.split()) >= 3])

    def take(pool: list[str]) -> list[str]:
        return [pool[i % len(pool)] for i in range(n)]

    return {"sentences": take(sentences), "paragraphs": take(paragraphs)}


def decisions_from_rows(path: Path, labels: list[str]) -> np.ndarray:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return np.array([[lab in r["labels"] for lab in labels] for r in rows], dtype=bool)


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {"label_decisions": float((a == b).mean()),
            "passages_exact": float((a == b).all(axis=1).mean())}


def run_framescope(art, texts: list[str], workdir: Path, precision: str,
                   tag: str) -> tuple[float, Path]:
    """Seconds for `framescope score` end to end on ``texts`` (written as JSONL first)."""
    from framescope.scoring import ScoreConfig, score

    src = workdir / f"{tag}.in.jsonl"
    if not src.exists():
        src.write_text("".join(json.dumps({"id": f"p{i:05d}", "text": t}) + "\n"
                               for i, t in enumerate(texts)), encoding="utf-8")
    out = workdir / f"{tag}.{precision}.jsonl"
    t0 = time.perf_counter()
    summary = score(art, [src], out, ScoreConfig(precision=precision, progress=False, overwrite=True))
    seconds = time.perf_counter() - t0
    assert summary.passages == len(texts), (summary.passages, len(texts))
    return seconds, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--n", type=int, default=2000, help="passages per set (default 2000)")
    ap.add_argument("--sets", nargs="+", default=["sentences", "paragraphs"],
                    choices=["sentences", "paragraphs"])
    ap.add_argument("--precisions", nargs="+", default=["auto", "int8", "onnx"],
                    choices=["auto", "fp32", "int8", "onnx"])
    ap.add_argument("--bf16-n", type=int, default=200,
                    help="passages on which bf16 autocast is timed against fp32 (0: skip)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    import torch
    import transformers

    from framescope.inference import predict_proba
    from framescope.modeling import load_artifact
    from framescope.runtime import cpu_supports_bf16, get_runner, precision_note, resolve_precision
    from framescope.scoring import _passage_budget, _token_counter

    transformers.logging.set_verbosity_error()
    tmp = tempfile.TemporaryDirectory(prefix="fs-bench-")
    workdir = Path(tmp.name)
    model_dir, model_note = resolve_model(args.model, workdir)
    art = load_artifact(model_dir)
    labels = art.taxonomy.ids
    thresholds = np.array([art.thresholds.get(lab, 0.5) for lab in labels])
    texts, text_note = source_texts()
    sets = passage_sets(texts, args.n, _token_counter(art.tokenizer), _passage_budget(art, None))
    pipe = transformers.pipeline("text-classification", model=str(model_dir),
                                 tokenizer=str(model_dir), top_k=None)
    load_start = os.getloadavg()[0]
    print(f"model: {model_note}\npassages: {text_note}\nauto = {precision_note('auto')}\n"
          f"torch threads {torch.get_num_threads()}, load average {load_start:.2f}", flush=True)

    setup = {}
    for p in args.precisions:  # build int8 / ONNX runners before timing (export is one-off)
        t0 = time.perf_counter()
        get_runner(art, p)
        setup[p] = round(time.perf_counter() - t0, 2)
    warm = sets[args.sets[0]][:16]
    pipe(warm)
    predict_proba(art, warm)

    results: dict[str, dict] = {}
    for name in args.sets:
        items = sets[name]
        n_tokens = [len(x) for x in art.tokenizer(items)["input_ids"]]
        entry: dict = {"passages": len(items), "mean_tokens": round(float(np.mean(n_tokens)), 1),
                       "systems": {}}
        t0 = time.perf_counter()
        out = pipe(items)
        pipe_s = time.perf_counter() - t0
        pipe_scores = np.array([[{d["label"]: d["score"] for d in row}[lab] for lab in labels]
                                for row in out])
        pipe_dec = pipe_scores >= thresholds
        entry["systems"]["pipeline"] = {"seconds": round(pipe_s, 2),
                                        "passages_per_s": round(len(items) / pipe_s, 2)}
        print(f"[{name}] pipeline: {len(items) / pipe_s:.1f} passages/s", flush=True)
        ref_dec = None
        order = ["fp32"] + [p for p in args.precisions if p != "fp32"]
        if resolve_precision("auto") == "fp32" and "auto" in args.precisions:
            order = [p for p in args.precisions if p == "auto"] + [p for p in args.precisions if p != "auto"]
        for prec in order:
            secs, path = run_framescope(art, items, workdir, prec, name)
            dec = decisions_from_rows(path, labels)
            if ref_dec is None:
                ref_dec = dec  # fp32 (or auto resolved to fp32): the reference decisions
            rec = {"resolved": resolve_precision(prec), "seconds": round(secs, 2),
                   "passages_per_s": round(len(items) / secs, 2),
                   "speedup_vs_pipeline": round(pipe_s / secs, 2),
                   "agreement_vs_fp32": agreement(dec, ref_dec)}
            entry["systems"][f"framescope-{prec}"] = rec
            print(f"[{name}] framescope {prec} ({rec['resolved']}): {rec['passages_per_s']:.1f} "
                  f"passages/s, {rec['speedup_vs_pipeline']:.2f}x pipeline, agreement "
                  f"{100 * rec['agreement_vs_fp32']['label_decisions']:.2f}% "
                  f"(exact {100 * rec['agreement_vs_fp32']['passages_exact']:.2f}%)", flush=True)
        entry["systems"]["pipeline"]["agreement_vs_fp32"] = agreement(pipe_dec, ref_dec)
        if args.bf16_n:
            sub = items[: args.bf16_n]
            t0 = time.perf_counter()
            predict_proba(art, sub, precision="fp32")
            f_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            predict_proba(art, sub, precision="bf16")
            b_s = time.perf_counter() - t0
            entry["bf16_vs_fp32_model_only"] = {"passages": len(sub), "fp32_per_s": round(len(sub) / f_s, 2),
                                                "bf16_per_s": round(len(sub) / b_s, 2),
                                                "bf16_speedup": round(f_s / b_s, 2)}
            print(f"[{name}] model only on {len(sub)}: fp32 {len(sub) / f_s:.1f}/s, bf16 autocast "
                  f"{len(sub) / b_s:.1f}/s ({f_s / b_s:.2f}x)", flush=True)
        results[name] = entry

    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "native_bf16": cpu_supports_bf16(),
                    "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                    "load_average_start": round(load_start, 2),
                    "load_average_end": round(os.getloadavg()[0], 2)},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "model": model_note, "passages_from": text_note, "auto": precision_note("auto"),
        "runner_setup_seconds": setup, "sets": results,
        "notes": ["framescope times include reading the JSONL input, validation, splitting, "
                  "scoring and writing the output; the pipeline times only its call on the list",
                  "agreement: share of equal passage x label decisions vs fp32 framescope "
                  "(passages_exact: whole label set equal)"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))
    print(f"wrote {args.out}")
    tmp.cleanup()
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def table(report: dict) -> str:
    """A Markdown table of the results."""
    lines = ["| set | system | passages/s | × pipeline | agreement vs fp32 (labels / exact) |",
             "|---|---|---:|---:|---:|"]
    for name, entry in report["sets"].items():
        for sysname, rec in entry["systems"].items():
            agr = rec.get("agreement_vs_fp32")
            agr_s = (f"{100 * agr['label_decisions']:.2f}% / {100 * agr['passages_exact']:.2f}%"
                     if agr else "")
            lines.append(f"| {name} | {sysname} | {rec['passages_per_s']:.1f} | "
                         f"{rec.get('speedup_vs_pipeline', 1.0):.2f} | {agr_s} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
