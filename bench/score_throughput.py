"""Throughput of `framescope score` at every precision against the plain transformers pipeline.

On the same passages (sentences and paragraphs separately, 2,000 each by default) it times, each
in a fresh process (so no runtime's thread pool or allocator state leaks into another's timing):

* ``transformers.pipeline("text-classification", top_k=None)`` with default settings, and
* ``framescope score`` end to end (reading the JSONL input, validating, cutting, scoring,
  writing the output) at ``--precision`` ``fp32``, ``auto`` and every opt-in precision
  (``int8``, ``onnx``, ``onnx-opt``, ``onnx-int8``); ``bf16`` on a subset (``--bf16-n``; it is
  slow on CPUs without native bf16).

It reports passages/s, the speed-up over the pipeline *measured in the same run*, and the decision
agreement with fp32 framescope (share of equal passage×label decisions, and of passages whose
whole label set is equal), using the model's stored thresholds. It also times each ONNX
precision's first use (export, optimise, quantise) in a process with an empty cache, and records
the CPU, its flags, the load average around every timed step, and the library versions.

Results go to ``bench/results/score_throughput.json``; the Markdown table goes to
``bench/results/score_throughput.md`` and into the "score throughput" section of
``bench/RESULTS.md``.

The model is ``models/default`` when it exists, else an *untrained* artifact on the bundled
all-MiniLM-L6-v2 (same architecture and cost; its scores sit near 0.5, so agreement figures
for approximate precisions are pessimistic). Passages come from ``data/seed`` and
``data/samples`` (synthetic text when those are absent).

The CPU may be shared: check ``cat /proc/loadavg`` first and prefer a quiet machine; every
figure carries the load average seen when it was measured.

    python bench/score_throughput.py                 # full run (~15 min on 2 quiet cores)
    python bench/score_throughput.py --n 300 --sets sentences --precisions fp32 onnx-opt   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
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
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
SECTION = ("<!-- score-throughput:begin (written by bench/score_throughput.py) -->",
           "<!-- score-throughput:end -->")
ALL_PRECISIONS = ["fp32", "auto", "int8", "onnx", "onnx-opt", "onnx-int8"]
SYNTHETIC_WORDS = ("the army said shelling hit the port city as talks on a ceasefire stalled while "
                   "sanctions squeezed exports and aid groups warned of refugees crossing the border "
                   "officials blamed western weapons deliveries for escalation")


# --------------------------------------------------------------------------- inputs


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


def read_texts(path: Path) -> list[str]:
    return [json.loads(x)["text"] for x in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- one timed process


def child(spec: dict) -> dict:
    """Run one system on one input file in this (fresh) process; return its timings."""
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    src, out = Path(spec["input"]), Path(spec["output"])
    texts = read_texts(src)
    rec: dict = {"passages": len(texts), "torch_threads": torch.get_num_threads()}
    t0 = time.perf_counter()
    if spec["system"] == "pipeline":
        pipe = transformers.pipeline("text-classification", model=spec["model"],
                                     tokenizer=spec["model"], top_k=None)
        rec["load_seconds"] = round(time.perf_counter() - t0, 2)
        pipe(texts[:16])
        timed = _timed(lambda: pipe(texts))
        labels = spec["labels"]
        scores = np.array([[{d["label"]: d["score"] for d in row}[lab] for lab in labels]
                           for row in timed.pop("result")])
        np.save(out, scores)
        return {**rec, **timed}
    from framescope.inference import predict_proba
    from framescope.modeling import load_artifact
    from framescope.runtime import get_runner, resolve_precision
    from framescope.scoring import ScoreConfig, score

    art = load_artifact(spec["model"])
    rec["load_seconds"] = round(time.perf_counter() - t0, 2)
    prec = spec["system"]
    rec["resolved"] = resolve_precision(prec)
    t0 = time.perf_counter()
    get_runner(art, prec)  # a first use when the cache is empty: export / optimise / quantise
    rec["setup_seconds"] = round(time.perf_counter() - t0, 2)
    if spec.get("setup_only"):
        return rec
    predict_proba(art, texts[:16], precision=prec)  # warm-up
    cfg = ScoreConfig(precision=prec, progress=False, overwrite=True)
    timed = _timed(lambda: score(art, [src], out, cfg))
    summary = timed.pop("result")
    assert summary.passages == len(texts), (summary.passages, len(texts))
    return {**rec, **timed}


def _timed(fn) -> dict:
    load0 = os.getloadavg()[0]
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    return {"result": result, "seconds": round(seconds, 3),
            "cpu_seconds": round(time.process_time() - cpu0, 2),
            "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)]}


def run_child(spec: dict, cache: Path) -> dict:
    """``child(spec)`` in a fresh Python process with ``FRAMESCOPE_CACHE=cache``."""
    env = {**os.environ, "FRAMESCOPE_CACHE": str(cache)}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{spec['system']} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- agreement


def decisions_from_rows(path: Path, labels: list[str]) -> np.ndarray:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return np.array([[lab in r["labels"] for lab in labels] for r in rows], dtype=bool)


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {"label_decisions": round(float((a == b).mean()), 5),
            "passages_exact": round(float((a == b).all(axis=1).mean()), 5)}


# --------------------------------------------------------------------------- the run


def machine() -> dict:
    """CPU model, cores, the instruction-set flags that matter here, and the load average."""
    flags: set[str] = set()
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    return {"cpu": cpu, "cores": os.cpu_count(), "flags": sorted(f for f in wanted if f in flags),
            "vnni": bool(flags & {"avx512_vnni", "avx_vnni"}),
            "native_bf16": bool(flags & {"avx512_bf16", "amx_bf16"}),
            "python": platform.python_version()}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "onnxruntime", "onnx", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def first_use(model_dir: Path, precisions: list[str], workdir: Path, sample: Path) -> dict:
    """Seconds to build each ONNX precision's runner in a fresh process with an empty cache."""
    from framescope.runtime import ONNX_PRECISIONS, resolve_precision

    out = {}
    for prec in precisions:
        if resolve_precision(prec) not in ONNX_PRECISIONS or resolve_precision(prec) in out:
            continue
        cache = Path(tempfile.mkdtemp(prefix="first-use-", dir=workdir))
        spec = {"system": resolve_precision(prec), "model": str(model_dir), "input": str(sample),
                "output": str(workdir / "unused.jsonl"), "setup_only": True}
        rec = run_child(spec, cache)
        out[resolve_precision(prec)] = rec["setup_seconds"]
        print(f"first use of {resolve_precision(prec)}: {rec['setup_seconds']:.1f} s "
              "(export / optimise / quantise, empty cache)", flush=True)
    return out


def time_set(name: str, src: Path, model_dir: Path, labels: list[str], thresholds: np.ndarray,
             precisions: list[str], workdir: Path, cache: Path, bf16_n: int, repeats: int = 1) -> dict:
    """Every system on one passage set, each run in its own process; with ``repeats`` > 1 the
    systems take turns round by round and each keeps its fastest run (all runs are recorded)."""
    n = len(read_texts(src))
    base = {"model": str(model_dir), "input": str(src), "labels": labels}
    order = ["pipeline", "fp32"] + [p for p in precisions if p != "fp32"]
    runs: dict[str, list[dict]] = {system: [] for system in order}
    for round_ in range(repeats):
        for system in order:
            suffix = "npy" if system == "pipeline" else "jsonl"
            rec = run_child({**base, "system": system, "output": str(workdir / f"{name}.{system}.{suffix}")},
                            cache)
            runs[system].append(rec)
            print(f"[{name}] round {round_ + 1}/{repeats} {system} ({rec.get('resolved', 'transformers')}): "
                  f"{n / rec['seconds']:.1f} passages/s, load {rec['load_average']}", flush=True)
    systems: dict[str, dict] = {}
    for system in order:
        best = dict(min(runs[system], key=lambda r: r["seconds"]))
        best["passages_per_s"] = round(n / best["seconds"], 2)
        best["runs_seconds"] = [r["seconds"] for r in runs[system]]
        best["runs_load_average"] = [r["load_average"] for r in runs[system]]
        systems["pipeline" if system == "pipeline" else f"framescope-{system}"] = best
    ref = decisions_from_rows(workdir / f"{name}.fp32.jsonl", labels)
    pipe = systems["pipeline"]
    pipe["agreement_vs_fp32"] = agreement(np.load(workdir / f"{name}.pipeline.npy") >= thresholds, ref)
    for system in order[1:]:
        rec = systems[f"framescope-{system}"]
        rec["speedup_vs_pipeline"] = round(pipe["seconds"] / rec["seconds"], 2)
        rec["agreement_vs_fp32"] = agreement(decisions_from_rows(workdir / f"{name}.{system}.jsonl", labels), ref)
        agr = rec["agreement_vs_fp32"]
        print(f"[{name}] framescope {system} ({rec['resolved']}): {rec['passages_per_s']:.1f} passages/s, "
              f"{rec['speedup_vs_pipeline']:.2f}x pipeline ({pipe['passages_per_s']:.1f}/s), agreement "
              f"{100 * agr['label_decisions']:.2f}% (exact {100 * agr['passages_exact']:.2f}%)", flush=True)
    entry: dict = {"passages": n, "repeats": repeats, "systems": systems}
    if bf16_n:
        sub = workdir / f"{name}.bf16-sub.in.jsonl"
        sub.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[:bf16_n]),
                       encoding="utf-8")
        rec = run_child({**base, "system": "bf16", "input": str(sub),
                         "output": str(workdir / f"{name}.bf16.jsonl")}, cache)
        rec["passages_per_s"] = round(bf16_n / rec["seconds"], 2)
        rec["agreement_vs_fp32"] = agreement(decisions_from_rows(workdir / f"{name}.bf16.jsonl", labels),
                                             ref[:bf16_n])
        entry["bf16_subset"] = rec
        print(f"[{name}] framescope bf16 on {bf16_n}: {rec['passages_per_s']:.1f} passages/s", flush=True)
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--n", type=int, default=2000, help="passages per set (default 2000)")
    ap.add_argument("--sets", nargs="+", default=["sentences", "paragraphs"],
                    choices=["sentences", "paragraphs"])
    ap.add_argument("--precisions", nargs="+", default=ALL_PRECISIONS, choices=ALL_PRECISIONS,
                    help="framescope precisions to time (fp32, the agreement reference, always is)")
    ap.add_argument("--bf16-n", type=int, default=200,
                    help="passages on which bf16 autocast is timed (0: skip)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="rounds of every system, taking turns; each keeps its fastest run (default 1)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--results-md", type=Path, default=RESULTS_MD,
                    help="the Markdown file whose score-throughput section is replaced")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    from framescope.inference import passage_budget, token_counter
    from framescope.modeling import load_artifact
    from framescope.runtime import precision_note

    started = time.time()
    load_start = [round(x, 2) for x in os.getloadavg()]
    tmp = tempfile.TemporaryDirectory(prefix="fs-bench-")
    workdir = Path(tmp.name)
    model_dir, model_note = resolve_model(args.model, workdir)
    art = load_artifact(model_dir)
    labels = list(art.taxonomy.ids)
    thresholds = art.threshold_vector()
    texts, text_note = source_texts()
    sets = passage_sets(texts, args.n, token_counter(art.tokenizer),
                        passage_budget(art.tokenizer, art.max_length))
    print(f"model: {model_note}\npassages: {text_note}\nauto = {precision_note('auto')}\n"
          f"load average at start {load_start}", flush=True)
    inputs = {}
    for name in args.sets:
        inputs[name] = workdir / f"{name}.in.jsonl"
        inputs[name].write_text("".join(json.dumps({"id": f"p{i:05d}", "text": t}) + "\n"
                                        for i, t in enumerate(sets[name])), encoding="utf-8")
    first = first_use(model_dir, args.precisions, workdir, inputs[args.sets[0]])
    cache = workdir / "cache"
    results = {}
    for name in args.sets:
        results[name] = time_set(name, inputs[name], model_dir, labels, thresholds, args.precisions,
                                 workdir, cache, args.bf16_n, args.repeats)
        results[name]["mean_tokens"] = round(float(np.mean(
            [len(x) for x in art.tokenizer(sets[name])["input_ids"]])), 1)
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "command": "python bench/score_throughput.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "minutes": round((time.time() - started) / 60, 1),
        "machine": {**machine(), "load_average_start": load_start,
                    "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "versions": versions(), "model": model_note, "passages_from": text_note,
        "auto": precision_note("auto"), "first_use_seconds": first, "sets": results,
        "notes": ["each system runs in its own process; framescope times are `score()` end to end "
                  "(reading the JSONL input, validation, cutting, scoring, writing the output) after "
                  "the model is loaded and its runner built; the pipeline times its call on the list",
                  "agreement: share of equal passage x label decisions vs fp32 framescope with the "
                  "model's thresholds (passages_exact: whole label set equal)",
                  "first_use_seconds: building the runner in a fresh process with an empty cache "
                  "(onnx: export; onnx-opt: export + optimise + check; onnx-int8: all that + quantise)"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md = section(report)
    args.out.with_suffix(".md").write_text(md + "\n", encoding="utf-8")
    if args.results_md:
        splice(args.results_md, md)
    print(md)
    print(f"wrote {args.out}, {args.out.with_suffix('.md')} and {args.results_md}")
    tmp.cleanup()
    return 0


# --------------------------------------------------------------------------- Markdown


def table(report: dict) -> str:
    """A Markdown table of the results."""
    first = report.get("first_use_seconds", {})
    lines = ["| set | system | runs as | passages/s | × pipeline | agreement vs fp32 (labels / exact) "
             "| first use (s) | load avg (start → end) |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for name, entry in report["sets"].items():
        rows = list(entry["systems"].items())
        if "bf16_subset" in entry:
            rows.append((f"framescope-bf16 ({entry['bf16_subset']['passages']} passages)", entry["bf16_subset"]))
        pipe_s = entry["systems"]["pipeline"]["seconds"] / entry["passages"]
        for sysname, rec in rows:
            agr = rec.get("agreement_vs_fp32")
            agr_s = f"{100 * agr['label_decisions']:.2f}% / {100 * agr['passages_exact']:.2f}%" if agr else ""
            speed = pipe_s / (rec["seconds"] / rec["passages"])
            runs = rec.get("resolved", "transformers")
            fu = first.get(runs)
            load = rec.get("load_average") or ["", ""]
            lines.append(f"| {name} | {sysname} | {runs} | {rec['passages_per_s']:.1f} | {speed:.2f} | "
                         f"{agr_s} | {'' if fu is None else f'{fu:.1f}'} | {load[0]} → {load[1]} |")
    return "\n".join(lines)


def section(report: dict) -> str:
    m, v = report["machine"], report["versions"]
    flags = ", ".join(m["flags"]) or "none of the listed"
    return "\n".join([
        "## Score throughput: framescope score vs transformers.pipeline", "",
        f"Generated by `{report['command'].strip()}` on {report['created'][:10]} "
        f"({report['minutes']} min; `bench/results/score_throughput.json`). Every system ran in its "
        "own process on the same passages; speed-ups are against the pipeline timed in the same run"
        + (f"; the systems took turns for {reps} rounds and each row is that system's fastest run "
           "(every run is in the JSON)" if (reps := max(e.get("repeats", 1) for e in report["sets"].values())) > 1
           else "") + ".", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, flags {flags} (VNNI: {'yes' if m['vnni'] else 'no'}, "
        f"native bf16: {'yes' if m['native_bf16'] else 'no'}); torch {v.get('torch')}, transformers "
        f"{v.get('transformers')}, onnxruntime {v.get('onnxruntime')}, onnx {v.get('onnx')}. "
        f"Load average (1/5/15 min) {m['load_average_start']} at start, {m['load_average_end']} at end.", "",
        f"Model: {report['model']}. `auto` = {report['auto']}.", "",
        table(report), "",
        "framescope times are `score()` end to end (read, validate, cut, score, write) with the model "
        "loaded and its runner built; the pipeline times its call on the list. Agreement: equal "
        "passage×label decisions vs fp32 framescope with the model's thresholds (exact: whole label "
        "set equal). First use: building the runner in a fresh process with an empty cache.",
    ])


def splice(path: Path, md: str) -> None:
    """Replace the score-throughput section of ``path`` (append it when absent)."""
    from framescope.data.io import atomic_write_text

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{SECTION[0]}\n{md}\n{SECTION[1]}"
    if SECTION[0] in text and SECTION[1] in text:
        head, rest = text.split(SECTION[0], 1)
        text = head + block + rest.split(SECTION[1], 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(path, text)


if __name__ == "__main__":
    sys.exit(main())
