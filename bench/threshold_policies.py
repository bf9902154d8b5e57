"""Per-label thresholds for rare labels: other threshold policies on models already trained by
``bench/quality.py --keep-models``, without retraining.

    python bench/quality.py --task semeval-persuasion --variant pos-weight-balanced --keep-models
    python bench/threshold_policies.py --run semeval-persuasion--pos-weight-balanced
    python bench/threshold_policies.py --render

By default ``framescope train`` tunes a label's threshold only when its dev set has at least 5
positives; the others keep 0.5. On SemEval persuasion (a 30% training share, dev carved from it)
about half of the 23 techniques fall under that bar. For every kept seed model this script
chooses the thresholds again with ``framescope thresholds`` on the model's own recorded dev data
(never on the evaluation data) under each policy below (per-label tuned or shrunk cut-offs for
every label with a dev positive, one global cut-off that maximises dev micro-F1, and 0.5
everywhere), then scores the evaluation data with ``framescope evaluate``; the "as trained" row
is the bench run's own evaluation of the same models. All commands run as subprocesses through ``bench/quality.py``'s step runner.
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
BEGIN, END = ("<!-- threshold-policies:begin (written by bench/threshold_policies.py) -->",
              "<!-- threshold-policies:end -->")
#: name -> framescope thresholds arguments
POLICIES: dict[str, list[str]] = {
    "tuned, every label with a dev positive": ["--policy", "tuned", "--min-positives", "1"],
    "shrunk (k=5), every label with a dev positive": ["--policy", "shrunk", "--shrink", "5",
                                                      "--min-positives", "1"],
    "global (one cut-off maximising dev micro-F1), labels with at least 5 dev positives": [
        "--policy", "global", "--min-positives", "5"],
    "fixed (0.5 for every label)": ["--policy", "fixed"],
    "bootstrap (median of the tuned value over dev resamples), labels with at least 5 dev positives": [
        "--policy", "bootstrap", "--min-positives", "5"],
}


def run(name: str, cache: Path, results: Path = RESULTS, only: list[str] | None = None) -> dict[str, Any]:
    """Re-choose thresholds and evaluate for every kept seed model of bench run ``name``, under
    every policy of :data:`POLICIES` (or those whose ``--policy`` value is in ``only``)."""
    bench, models, eval_data = kept_run(name, cache, results, ROOT)
    logs, out_dir = cache / f"{name}--thresholds" / "logs", cache / f"{name}--thresholds"
    t0 = time.perf_counter()
    rows: dict[str, list[dict[str, Any]]] = {"as trained (tuned, labels with at least 5 dev positives)": [
        {**s["metrics"]["model"], "thresholds_moved": s["artifact"].get("thresholds_tuned")}
        for s in bench["seeds"]]}
    steps, commands = [], {}
    for pol, args in POLICIES.items():
        if only and args[1] not in only:
            continue
        tag = "-".join(a.strip("-") for a in args)
        rows[pol] = []
        for model in models:
            retuned = out_dir / "models" / f"{model.name}-{tag}"
            report = out_dir / "reports" / f"{model.name}-{tag}"
            cmd_t = [*quality.framescope_exe(), "thresholds", "--model", str(model), *args, "--out", str(retuned)]
            cmd_e = [*quality.framescope_exe(), "evaluate", "--model", str(retuned), "--data", *eval_data,
                     "--out", str(report), "--baseline", "none", "--bootstrap", "200", "--no-reports"]
            steps += [quality.run_step(f"thresholds-{model.name}-{tag}", cmd_t, logs),
                      quality.run_step(f"evaluate-{model.name}-{tag}", cmd_e, logs)]
            commands.setdefault(pol, [quality.display(cmd_t), quality.display(cmd_e)])
            meta = json.loads((retuned / "framescope.json").read_text(encoding="utf-8"))
            m = quality._read_metrics(report)["model"]
            m["thresholds_moved"] = sum(1 for v in (meta.get("threshold_source") or {}).values() if v != "default")
            rows[pol].append(m)
    out = {"run": name, "task": bench["task"], "metric": bench["metric"], "bench_run": bench["bench_command"],
           "eval_data": bench["data"]["eval"], "policies": {}, "commands": commands,
           "seconds": round(time.perf_counter() - t0, 1), "machine": quality.machine_facts(),
           "git_commit": quality.git_commit(),
           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "peak_rss_mb": round(max((s.peak_rss_mb for s in steps), default=0), 1)}
    for pol, ms in rows.items():
        labels = list(ms[0].get("per_label", {}))
        out["policies"][pol] = {
            "micro_f1": quality._mean_sd([m.get("micro_f1") for m in ms]),
            "macro_f1": quality._mean_sd([m.get("macro_f1") for m in ms]),
            "thresholds_moved": [m.get("thresholds_moved") for m in ms],
            "per_label": {lab: {**quality._mean_sd([m["per_label"][lab]["f1"] for m in ms]),
                                "support": ms[0]["per_label"][lab]["support"]} for lab in labels}}
    path = results / f"threshold-policies--{name}.json"
    from framescope.data.io import atomic_write_text

    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")
    return out


def command(r: dict[str, Any]) -> str:
    """The command that made result ``r``: its run, and ``--only`` when it ran a subset."""
    ran = [POLICIES[name][1] for name in r["policies"] if name in POLICIES]
    every = [args[1] for args in POLICIES.values()]
    only = f" --only {' '.join(ran)}" if ran and ran != every else ""
    return f"python bench/threshold_policies.py --run {r['run']}{only}"


def render(results: list[dict[str, Any]]) -> str:
    """The RESULTS.md section of every threshold-policy run."""
    lines = [BEGIN, "## Thresholds for rare labels (`python bench/threshold_policies.py`)", "",
             "The same trained models, thresholds chosen again on each model's own recorded dev data "
             "(`framescope thresholds`), then scored on the evaluation data. Mean ± sd over the bench "
             "run's seeds.", ""]
    for r in results:
        pols = r["policies"]
        lines += [f"### `{r['run']}` on {', '.join(f'`{p}`' for p in r['eval_data'])}", "",
                  "| threshold policy | micro-F1 | macro-F1 | labels off 0.5 (per seed) |", "|---|---|---|---|"]
        for pol, s in pols.items():
            moved = ", ".join("?" if x is None else str(x) for x in s["thresholds_moved"])
            lines.append(f"| {pol} | {quality._fmt(s['micro_f1'])} | {quality._fmt(s['macro_f1'])} | {moved or 'as recorded'} |")
        names = list(pols)
        lines += ["", "<details><summary>Per-label F1</summary>", "",
                  "| label | support | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        first = pols[names[0]]["per_label"]
        for lab in sorted(first, key=lambda k: -(first[k].get("support") or 0)):
            lines.append(f"| {lab} | {first[lab]['support']} | "
                         + " | ".join(quality._fmt(pols[n]["per_label"].get(lab)) for n in names) + " |")
        m = r["machine"]
        lines += ["", "</details>", "",
                  f"Bench run: `{r['bench_run']}`; policies: `{command(r)}`. Re-choosing and scoring "
                  f"took {r['seconds'] / 60:.1f} min "
                  f"on {m.get('cpu')}, {m.get('cores')} cores (peak RSS of a step {r['peak_rss_mb']:.0f} MiB), "
                  f"commit `{r['git_commit']}`, {r['date'][:10]}. Commands (first seed):", "", "```"]
        for cmds in r["commands"].values():
            lines += cmds
        lines += ["```", ""]
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = kept_run_parser(__doc__.split("\n\n")[0], quality.CACHE, RESULTS)
    p.add_argument("--only", nargs="+", metavar="POLICY",
                   choices=sorted({a[1] for a in POLICIES.values()}),
                   help="run only these framescope thresholds --policy values (default: every row)")
    args = p.parse_args(argv)
    if not args.run and not args.render:
        p.error("give --run NAME or --render")
    if args.run:
        if not (quality.SHARED).exists():
            print("skipped: ../shared/data not found")
            return 0
        run(args.run, args.cache, args.results_dir, only=args.only)
    render_saved(args.results_dir, "threshold-policies--*.json", BEGIN, END, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
