"""Peak memory of `framescope score`: 200,000 passages vs 2,000 (it streams, so they should
match), and one huge record (20 MB of text) vs a run of ordinary records (its passages stream
through the same bounded chunks, so it should cost little more).

Each run is its own subprocess (``framescope score`` end to end: validation pass, reading,
splitting, scoring, writing JSONL passage rows) and reports its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``). The model is a *tiny* random-weight BERT
(2 layers, hidden 32, the MiniLM tokenizer) so that 200,000 passages take minutes, not hours;
the model's own memory is the same for every run, which is what matters here. Inputs are built
from ``data/seed`` sentences (synthetic when absent):

* sizes: one-sentence JSONL records (one passage each);
* huge record: 2,000 ordinary articles (5 paragraphs of 4 sentences, ~100-token passages),
  alone and then with one 20 MB record added (many paragraphs, or one paragraph with no line
  break). The articles are the fair baseline: the huge record's passages are of the same
  length. Its peak is also reported against the one-sentence run, which is smaller per passage.

    python bench/score_memory.py                     # 2,000 and 200,000 passages, + 20 MB records
    python bench/score_memory.py --sizes 2000 20000  # quicker
    python bench/score_memory.py --big-record-mb 0   # without the huge-record runs

Writes ``bench/results/score_memory.json``; exits 1 when the largest run's peak exceeds the
smallest's by more than 10%, or a huge-record run's exceeds the ordinary articles' by more than
20%.
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
sys.path.insert(0, str(ROOT / "bench"))
from _common import cpu_name  # noqa: E402

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


def write_articles(path: Path, n: int, pool: list[str]) -> None:
    """``n`` ordinary articles: 5 paragraphs of 4 pool sentences each."""
    rng = random.Random(2)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = "\n\n".join(" ".join(rng.choice(pool) for _ in range(4)) for _ in range(5))
            fh.write(json.dumps({"id": f"art{i:06d}", "outlet": f"Outlet {i % 7}",
                                 "published": "2023-03-01", "text": text}) + "\n")


def write_big_record(path: Path, mb: int, pool: list[str], *, paragraphs: bool) -> None:
    """2,000 ordinary articles and one record of about ``mb`` MB of text: many paragraphs, or
    (``paragraphs=False``) one paragraph with no line break at all."""
    rng = random.Random(1)
    sep = "\n\n" if paragraphs else " "
    parts, size = [], 0
    while size < mb * 2**20:
        para = " ".join(rng.choice(pool) for _ in range(4))
        parts.append(para)
        size += len(para) + len(sep)
    write_articles(path, 2000, pool)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "huge", "article_id": "huge", "outlet": "Outlet H",
                             "published": "2023-03-01", "text": sep.join(parts)}) + "\n")


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
    ap.add_argument("--big-record-mb", type=int, default=20,
                    help="size of the huge record runs in MB (0 = skip them; default 20)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", nargs=3, metavar=("MODEL", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)

    with tempfile.TemporaryDirectory(prefix="fs-mem-") as tmp:
        work = Path(tmp)
        model = build_tiny_model(work)
        pool = sentences()

        def measure(src: Path) -> dict | None:
            proc = subprocess.run([sys.executable, __file__, "--child", str(model), str(src),
                                   str(work / "out.jsonl")], capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return None
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            rec["input_mb"] = round(src.stat().st_size / 2**20, 1)
            src.unlink()
            return rec

        runs = []
        for n in sorted(args.sizes):
            src = work / f"in-{n}.jsonl"
            write_input(src, n, pool)
            if (rec := measure(src)) is None:
                return 2
            runs.append(rec)
            print(f"{n:>8} passages: peak RSS {rec['peak_rss_mb']:.1f} MB "
                  f"(input {rec['input_mb']} MB, {rec['seconds']} s)", flush=True)
        big, articles = [], None
        if args.big_record_mb:
            src = work / "articles.jsonl"
            write_articles(src, 2000, pool)
            if (articles := measure(src)) is None:
                return 2
            print(f"2,000 ordinary articles: peak RSS {articles['peak_rss_mb']:.1f} MB "
                  f"({articles['passages']} passages, {articles['seconds']} s)", flush=True)
        for paragraphs in ((True, False) if args.big_record_mb else ()):
            kind = "paragraphs" if paragraphs else "one paragraph"
            src = work / f"big-{kind[:3]}.jsonl"
            write_big_record(src, args.big_record_mb, pool, paragraphs=paragraphs)
            if (rec := measure(src)) is None:
                return 2
            rec.update(record=f"{args.big_record_mb} MB, {kind}",
                       vs_articles=round(rec["peak_rss_mb"] / articles["peak_rss_mb"] - 1, 4),
                       vs_sentences=round(rec["peak_rss_mb"] / runs[0]["peak_rss_mb"] - 1, 4))
            big.append(rec)
            print(f"one {args.big_record_mb} MB record ({kind}) + 2,000 articles: peak RSS "
                  f"{rec['peak_rss_mb']:.1f} MB ({100 * rec['vs_articles']:+.1f}% vs the articles alone, "
                  f"{100 * rec['vs_sentences']:+.1f}% vs {runs[0]['passages']} one-sentence records; "
                  f"{rec['passages']} passages, {rec['seconds']} s)", flush=True)
    growth = runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"] - 1
    big_ok = all(r["vs_articles"] <= 0.20 for r in big)
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "model": "tiny random-weight BERT (2 layers, hidden 32, MiniLM tokenizer)",
              "cpu": cpu_name(), "runs": runs, "growth_largest_vs_smallest": round(growth, 4),
              "within_10_percent": growth <= 0.10, "ordinary_articles": articles,
              "huge_record_runs": big, "huge_records_within_20_percent": big_ok}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"peak RSS growth {100 * growth:+.1f}% ({'OK' if growth <= 0.10 else 'OVER 10%'}); "
          f"huge records {'OK' if big_ok else 'OVER 20%'}; wrote {args.out}")
    return 0 if growth <= 0.10 and big_ok else 1


if __name__ == "__main__":
    sys.exit(main())
