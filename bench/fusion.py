"""TF-IDF fusion (``framescope fuse``) on models already trained by ``bench/quality.py --keep-models``.

    python bench/quality.py --task semeval-frames --full --keep-models   # the models
    python bench/fusion.py --run semeval-frames--full
    python bench/fusion.py --render

For every kept seed model of a bench run this script runs ``framescope fuse`` (a TF-IDF +
logistic-regression model fitted on the model's own training data; the weight ``w`` of
``w * network + (1 - w) * TF-IDF`` and the fused thresholds chosen on the model's recorded dev
data, never on the evaluation data), then ``framescope evaluate --baseline tfidf`` of the fused
model on the run's evaluation data: the TF-IDF baseline there is the same one the bench run
compared the network with, so "fused" and "TF-IDF" come from one evaluation, with a paired
bootstrap of whole units. The "network" column is the bench run's own evaluation of the same
models. All commands run as subprocesses through ``bench/quality.py``'s step runner.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import quality  # noqa: E402  (step runner, machine facts, metrics reader)
from _common import kept_run, kept_run_parser, render_saved  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BEGIN, END = ("<!-- fusion:begin (written by bench/fusion.py) -->", "<!-- fusion:end -->")


def _eval_flags(bench: dict[str, Any]) -> list[str]:
    """The bench run's own ``framescope evaluate`` flags (level, aggregate, bootstrap), so the
    fused model is evaluated as the network was."""
    cmd = bench["commands"]["evaluate"].split()
    keep: list[str] = []
    for flag in ("--level", "--aggregate", "--bootstrap"):
        if flag in cmd:
            keep += [flag, cmd[cmd.index(flag) + 1]]
    return keep


def run(name: str, cache: Path, results: Path = RESULTS) -> dict[str, Any]:
    """Fuse and evaluate every kept seed model of bench run ``name``."""
    bench, models, eval_data = kept_run(name, cache, results, ROOT)
    out_dir = cache / f"{name}--fused"
    logs = out_dir / "logs"
    t0 = time.perf_counter()
    steps, seeds, commands = [], [], []
    network = {str(s["seed"]): s["metrics"] for s in bench["seeds"]}
    for model in models:
        fused, report = out_dir / "models" / model.name, out_dir / "reports" / model.name
        cmd_f = [*quality.framescope_exe(), "fuse", "--model", str(model), "--out", str(fused)]
        cmd_e = [*quality.framescope_exe(), "evaluate", "--model", str(fused), "--data", *eval_data,
                 "--out", str(report), "--baseline", "tfidf", *_eval_flags(bench), "--no-reports"]
        steps += [quality.run_step(f"fuse-{model.name}", cmd_f, logs),
                  quality.run_step(f"evaluate-{model.name}", cmd_e, logs)]
        if not commands:
            commands = [quality.display(cmd_f), quality.display(cmd_e)]
        meta = json.loads((fused / "framescope.json").read_text(encoding="utf-8"))["fusion"]
        m = quality._read_metrics(report)
        full = json.loads((report / "metrics.json").read_text(encoding="utf-8"))
        tests = {c["metric"]: c for c in full.get("comparisons", []) if c.get("b") == "baseline"}
        seeds.append({"seed": model.name.removeprefix("seed"), "weight": meta["weight"],
                      "dev_micro_f1_by_weight": meta["dev_micro_f1_by_weight"],
                      "dev_micro_f1_network_alone": meta["dev_micro_f1_network_alone"],
                      "network": {k: network[model.name.removeprefix("seed")]["model"][k]
                                  for k in ("micro_f1", "macro_f1")},
                      "fused": {k: m["model"][k] for k in ("micro_f1", "macro_f1")},
                      "tfidf": {k: m["baseline"][k] for k in ("micro_f1", "macro_f1")},
                      "fused_vs_tfidf": {k: {"difference": t.get("difference"), "p_value": t.get("p_value")}
                                         for k, t in tests.items()}})
    out = {"run": name, "task": bench["task"], "metric": bench["metric"], "bench_run": bench["bench_command"],
           "eval_data": bench["data"]["eval"], "seeds": seeds, "commands": commands,
           "seconds": round(time.perf_counter() - t0, 1), "machine": quality.machine_facts(),
           "git_commit": quality.git_commit(),
           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "peak_rss_mb": round(max((s.peak_rss_mb for s in steps), default=0), 1)}
    for system in ("network", "fused", "tfidf"):
        out[system] = {k: quality._mean_sd([s[system][k] for s in seeds]) for k in ("micro_f1", "macro_f1")}
    path = results / f"fusion--{name}.json"
    from framescope.data.io import atomic_write_text

    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return out


def render(results: list[dict[str, Any]]) -> str:
    """The RESULTS.md section of every fusion run."""
    lines = [BEGIN, "## Fusion with TF-IDF (`python bench/fusion.py`)", "",
             "The same trained models fused with a TF-IDF model by `framescope fuse` (fitted on each "
             "model's training data; weight `w` of `w * network + (1 - w) * TF-IDF` and thresholds "
             "chosen on its recorded dev data), then evaluated once on the evaluation data beside the "
             "TF-IDF baseline. p: paired bootstrap of whole units, fused against TF-IDF.", ""]
    for r in results:
        metric = r["metric"]
        other = "macro_f1" if metric == "micro_f1" else "micro_f1"
        name = metric.replace("_f1", "-F1")
        lines += [f"### `{r['run']}` on {', '.join(f'`{p}`' for p in r['eval_data'])}", "",
                  f"| seed | w | {name}: network / TF-IDF / fused | fused − TF-IDF (p) | "
                  f"{other.replace('_f1', '-F1')}: network / TF-IDF / fused |", "|---|---|---|---|---|"]
        for s in r["seeds"]:
            t = s["fused_vs_tfidf"].get(metric) or {}
            d = "n/a" if t.get("difference") is None else f"{t['difference']:+.3f} (p {t['p_value']:.3f})"
            lines.append(f"| {s['seed']} | {s['weight']:.1f} | {s['network'][metric]:.3f} / "
                         f"{s['tfidf'][metric]:.3f} / {s['fused'][metric]:.3f} | {d} | "
                         f"{s['network'][other]:.3f} / {s['tfidf'][other]:.3f} / {s['fused'][other]:.3f} |")
        lines.append(f"| mean ± sd | | {quality._fmt(r['network'][metric])} / {quality._fmt(r['tfidf'][metric])} / "
                     f"**{quality._fmt(r['fused'][metric])}** | | {quality._fmt(r['network'][other])} / "
                     f"{quality._fmt(r['tfidf'][other])} / {quality._fmt(r['fused'][other])} |")
        m = r["machine"]
        lines += ["", f"Bench run: `{r['bench_run']}`; this: `python bench/fusion.py --run {r['run']}` "
                  f"({r['seconds'] / 60:.1f} min on {m.get('cpu')}, {m.get('cores')} cores, peak RSS of a "
                  f"step {r['peak_rss_mb']:.0f} MiB, commit `{r['git_commit']}`, {r['date'][:10]}). "
                  "Commands (first seed):", "", "```", *r["commands"], "```", ""]
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = kept_run_parser(__doc__.split("\n\n")[0], quality.CACHE, RESULTS)
    args = p.parse_args(argv)
    if not args.run and not args.render:
        p.error("give --run NAME or --render")
    if args.run:
        if not quality.SHARED.exists():
            print("skipped: ../shared/data not found")
            return 0
        run(args.run, args.cache, args.results_dir)
    render_saved(args.results_dir, "fusion--*.json", BEGIN, END, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
