"""Peak memory of `framescope score`: 200,000 passages vs 2,000 (it streams, so they should match).

Each size runs in its own subprocess (``framescope score`` end to end: validation pass, reading,
splitting, scoring, writing JSONL passage rows) and reports its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``). The model is a *tiny* random-weight BERT
(2 layers, hidden 32, the MiniLM tokenizer) so that 200,000 passages take minutes, not hours;
the model's own memory is the same for both sizes, which is what matters here. Inputs are
one-sentence JSONL records built from ``data/seed`` text (synthetic when absent).

    python bench/score_memory.py                     # 2,000 and 200,000 passages
    python bench/score_memory.py --sizes 2000 20000  # quicker

Writes ``bench/results/score_memory.json``; exits 1 when the largest run's peak exceeds the
smallest's by more than 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "score_memory.json"
SYNTHETIC_WORDS = "the army said shelling hit the port as talks on a ceasefire stalled again"


def build_tiny_model(out: Path) -> Path:
    """A tiny random-weight framescope artifact on the default taxonomy."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from framescope.data import DEFAULT_TAXONOMY, load_taxonomy
    from framescope.modeling import Artifact, build_model, resolve_base, save_artifact

    torch.manual_seed(0)
    base = out / "tiny-base"
    tok = AutoTokenizer.from_pretrained(resolve_base(None))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=48, max_position_embeddings=512)
    BertModel(config).save_pretrained(base, safe_serialization=True)
    tok.save_pretrained(base)
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    model, tok = build_model(base, tax)
    art = Artifact(model, tok, tax, dict.fromkeys(tax.ids, 0.5),
                   {"name": "tiny-bench", "max_length": 128, "problem_type": "multi_label"})
    return save_artifact(art, out / "tiny")


def sentences() -> list[str]:
    from framescope.data.passages import sentence_spans

    out: list[str] = []
    for path in sorted((ROOT / "data" / "seed").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line).get("text") or ""
            out.extend(text[s:e] for s, e in sentence_spans(text, 0, len(text)))
    if len(out) >= 100:
        return out
    rng = random.Random(0)
    words = SYNTHETIC_WORDS.split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(6, 20))).capitalize() + "."
            for _ in range(2000)]


def write_input(path: Path, n: int, pool: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"m{i:07d}", "article_id": f"a{i // 4:06d}",
                                 "outlet": f"Outlet {i % 7}", "published": "2023-03-01",
                                 "text": pool[i % len(pool)]}) + "\n")


def child(model: str, src: str, out: str) -> int:
    """Run one scoring job and print its peak RSS as JSON."""
    from framescope.scoring import ScoreConfig, score

    t0 = time.perf_counter()
    summary = score(model, [src], out, ScoreConfig(progress=False, overwrite=True))
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"passages": summary.passages, "seconds": round(seconds, 1),
                      "peak_rss_mb": round(peak_kb / 1024, 1)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 200000])
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", nargs=3, metavar=("MODEL", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)

    with tempfile.TemporaryDirectory(prefix="fs-mem-") as tmp:
        work = Path(tmp)
        model = build_tiny_model(work)
        pool = sentences()
        runs = []
        for n in sorted(args.sizes):
            src = work / f"in-{n}.jsonl"
            write_input(src, n, pool)
            proc = subprocess.run([sys.executable, __file__, "--child", str(model), str(src),
                                   str(work / f"out-{n}.jsonl")], capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 2
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            rec["input_mb"] = round(src.stat().st_size / 2**20, 1)
            runs.append(rec)
            print(f"{n:>8} passages: peak RSS {rec['peak_rss_mb']:.1f} MB "
                  f"(input {rec['input_mb']} MB, {rec['seconds']} s)", flush=True)
            src.unlink()
    growth = runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"] - 1
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "model": "tiny random-weight BERT (2 layers, hidden 32, MiniLM tokenizer)",
              "runs": runs, "growth_largest_vs_smallest": round(growth, 4),
              "within_10_percent": growth <= 0.10}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"peak RSS growth {100 * growth:+.1f}% ({'OK' if growth <= 0.10 else 'OVER 10%'}); "
          f"wrote {args.out}")
    return 0 if growth <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
