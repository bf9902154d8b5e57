"""`framescope evaluate`: units and aggregation, label checks, baseline, compare, reports, HTML."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import ROOT, TOY_LABELS, shared, toy_records

from framescope.data import DataError, Passage, Taxonomy
from framescope.data.labels_map import apply_labels_map, load_labels_map
from framescope.evaluation import EvalConfig, build_units, check_label_sets, evaluate, write_outputs
from framescope.inference import combine as aggregate

SCRIPT = "<script>document.title='pwned'</script> Item X: the apples orchard harvest <b>story</b>."


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _artifact_copy(src: Path, dst: Path, **meta_updates: object) -> Path:
    shutil.copytree(src, dst)
    meta_path = dst / "framescope.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(meta_updates)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    return dst


@pytest.fixture(scope="module")
def setup(tiny_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Toy train/dev/test files and artifacts that record them (thresholds 0.5 and 0.0)."""
    root = tmp_path_factory.mktemp("evaluate")
    train = _write_jsonl(root / "train.jsonl", toy_records(120, seed=1))
    dev = _write_jsonl(root / "dev.jsonl", toy_records(60, seed=2))
    test_rows = toy_records(60, seed=3)
    test_rows.append({"id": "script", "article_id": "art-script", "text": SCRIPT, "labels": []})
    test = _write_jsonl(root / "test.jsonl", test_rows)
    data = {"train": {"paths": [str(train)]}, "dev": {"paths": [str(dev)]},
            "test": {"paths": [str(test)]}}
    model = _artifact_copy(tiny_artifact, root / "models" / "tiny", data=data)
    # thresholds 0: every label is predicted, so every passage missing a label is an error
    eager = _artifact_copy(tiny_artifact, root / "models" / "eager", data=data, name="eager",
                           thresholds=dict.fromkeys(TOY_LABELS, 0.0),
                           threshold_source=dict.fromkeys(TOY_LABELS, "tuned"))
    return SimpleNamespace(root=root, train=train, dev=dev, test=test, model=model, eager=eager,
                           test_rows=test_rows)


@pytest.fixture(scope="module")
def full_run(setup: SimpleNamespace) -> SimpleNamespace:
    """One CLI run with the baseline, --compare and reports (shared by several tests)."""
    from framescope.cli import main

    out = setup.root / "report"
    code = main(["evaluate", "--model", str(setup.eager), "--data", str(setup.test),
                 "--compare", str(setup.model), "--out", str(out), "--top-errors", "500",
                 "--bootstrap", "400"])
    assert code == 0
    result = json.loads((out / "metrics.json").read_text(encoding="utf-8"),
                        parse_constant=lambda c: pytest.fail(f"metrics.json holds {c}"))
    return SimpleNamespace(out=out, result=result)


# ----------------------------------------------------------------------------- units

def test_aggregate_max_and_noisy_or() -> None:
    p = np.array([[0.5, 0.1], [0.5, 0.2], [0.2, 0.9], [0.3, 0.0]])
    unit = np.array([0, 0, 0, 1])
    assert aggregate(p, unit, 2, "max").tolist() == [[0.5, 0.9], [0.3, 0.0]]
    noisy = aggregate(p, unit, 2, "noisy-or")
    # 1 - (0.5 * 0.5 * 0.8) = 0.8 ; 1 - (0.9 * 0.8 * 0.1) = 0.928
    assert noisy == pytest.approx(np.array([[0.8, 0.928], [0.3, 0.0]]))
    assert (noisy >= aggregate(p, unit, 2, "max") - 1e-12).all()
    with pytest.raises(ValueError, match="max, noisy-or, mean"):
        aggregate(p, unit, 2, "median")


def test_build_units_article_level(toy_taxonomy: Taxonomy) -> None:
    ps = [Passage(id="p1", text="one", labels=["alpha"], article_id="A"),
          Passage(id="p2", text="two", labels=["beta"], article_id="A"),
          Passage(id="p3", text="three", labels=[], article_id="B"),
          Passage(id="p4", text="four", labels=["gamma"])]
    units = build_units(ps, toy_taxonomy, level="article")
    assert units.ids == ["A", "B", "p4"] and units.groups == ["A", "B", "p4"]
    assert units.y.tolist() == [[True, True, False], [False, False, False], [False, False, True]]
    assert units.piece_unit.tolist() == [0, 0, 1, 2] and units.record_unit.tolist() == [0, 0, 1, 2]
    by_passage = build_units(ps, toy_taxonomy, level="passage")
    assert by_passage.ids == ["p1", "p2", "p3", "p4"] and by_passage.groups == ["A", "A", "B", "p4"]


def test_build_units_cuts_long_records(toy_taxonomy: Taxonomy) -> None:
    long_text = "\n\n".join(f"Paragraph {i} talks about apples and the orchard harvest." for i in range(6))
    ps = [Passage(id="long", text=long_text, labels=["alpha"]), Passage(id="short", text="boats", labels=["beta"])]
    units = build_units(ps, toy_taxonomy, max_tokens=20)
    assert units.cut == 1 and len(units) == 2
    assert len(units.pieces) == 7 and units.piece_unit.tolist() == [0] * 6 + [1]
    assert [p.id for p in units.records] == ["long", "short"] and units.record_unit.tolist() == [0, 1]
    assert all(long_text[p.start:p.end] == p.text for p in units.pieces[:6])


# ----------------------------------------------------------------------------- labels

def test_label_mismatch_lists_both_sets(setup: SimpleNamespace, tmp_path: Path) -> None:
    bad = _write_jsonl(tmp_path / "other.jsonl", [
        {"id": "1", "text": "a", "labels": ["Economic"]}, {"id": "2", "text": "b", "labels": ["alpha", "delta"]}])
    with pytest.raises(DataError) as info:
        evaluate(EvalConfig(model=setup.model, data=[str(bad)], baseline="none", progress=False))
    msg = str(info.value)
    assert "label sets differ" in msg and "['Economic', 'delta']" in msg
    assert "model labels (3): alpha, beta, gamma" in msg
    assert "data labels (3): Economic, alpha, delta" in msg and "--labels-map" in msg


def test_check_label_sets_returns_absent_labels() -> None:
    assert check_label_sets({"a"}, ["a", "b"], data_name="d", model_name="m") == ["b"]


def test_labels_map(setup: SimpleNamespace, tmp_path: Path) -> None:
    rename = {"alpha": "A", "beta": "B", "gamma": "G"}
    rows = [dict(r, labels=[rename[x] for x in r["labels"]] + (["junk"] if i % 5 == 0 else []))
            for i, r in enumerate(toy_records(30, seed=4))]
    data = _write_jsonl(tmp_path / "renamed.jsonl", rows)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("A: alpha\nB: beta\nG: gamma\njunk: null\n", encoding="utf-8")
    result = evaluate(EvalConfig(model=setup.model, data=[str(data)], labels_map=mapping,
                                 baseline="none", n_boot=50, progress=False))
    info = result["data"]["labels_map"]
    assert info["dropped"] == 6 and info["renamed"] == sum(len(r["labels"]) for r in rows) - 6
    expected = {lab: sum(lab in r["labels"] for r in toy_records(30, seed=4)) for lab in TOY_LABELS}
    assert result["gold"]["support"] == expected
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"A": "alfa"}), encoding="utf-8")
    with pytest.raises(DataError, match=r"target label\(s\) \['alfa'\] are not model labels"):
        evaluate(EvalConfig(model=setup.model, data=[str(data)], labels_map=bad, baseline="none",
                            progress=False))
    not_a_map = tmp_path / "list.json"
    not_a_map.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DataError, match="expected a mapping"):
        load_labels_map(not_a_map)


def test_apply_labels_map_merges_duplicates() -> None:
    ps = [Passage(id="1", text="t", labels=["x", "y", "z"])]
    info = apply_labels_map(ps, {"x": "a", "y": "a", "z": None}, ["a"])
    assert ps[0].labels == ["a"] and info["dropped"] == 1 and info["renamed"] == 2


# ----------------------------------------------------------------------------- baseline

def test_baseline_beats_chance() -> None:
    from framescope.baseline import TfidfBaseline
    from framescope.metrics import overall_metrics

    def xy(n: int, seed: int) -> tuple[list[str], np.ndarray]:
        rows = toy_records(n, seed=seed)
        return [r["text"] for r in rows], np.array([[lab in r["labels"] for lab in TOY_LABELS]
                                                    for r in rows], dtype=int)

    (xt, yt), (xd, yd), (xs, ys) = xy(150, 11), xy(60, 12), xy(90, 13)
    base = TfidfBaseline(TOY_LABELS).fit(xt, yt, xd, yd)
    assert base.threshold_sources_ == ["tuned"] * 3
    probs = base.predict_proba(xs)
    assert probs.shape == (90, 3) and ((probs >= 0) & (probs <= 1)).all()
    macro = overall_metrics(ys, base.decide(probs), TOY_LABELS)["macro_f1"]
    rng = np.random.default_rng(0)
    chance = overall_metrics(ys, rng.random(ys.shape) < ys.mean(0), TOY_LABELS)["macro_f1"]
    assert macro > 0.9 and macro > chance + 0.4
    info = base.describe()
    assert info["train_units"] == 150 and info["dev_units"] == 60 and info["vocabulary"] > 10


def test_baseline_label_without_training_positives() -> None:
    from framescope.baseline import TfidfBaseline

    y = np.array([[1, 0, 0], [0, 1, 0]] * 5)
    base = TfidfBaseline(TOY_LABELS).fit(["apples pie", "boats sail"] * 5, y)
    assert base.untrained_labels_ == ["gamma"]
    assert base.predict_proba(["guitars"])[0, 2] == 0.0
    with pytest.raises(ValueError, match="no positive label at all"):
        TfidfBaseline(TOY_LABELS).fit(["a", "b"], np.zeros((2, 3)))


def test_baseline_needs_training_data(tiny_artifact: Path, setup: SimpleNamespace) -> None:
    # tiny_artifact records no data paths: required -> error; default -> skipped with a note
    with pytest.raises(DataError, match="--baseline-train"):
        evaluate(EvalConfig(model=tiny_artifact, data=[str(setup.test)], baseline="tfidf",
                            n_boot=20, progress=False))
    result = evaluate(EvalConfig(model=tiny_artifact, data=[str(setup.test)], n_boot=20,
                                 progress=False))
    assert "baseline" not in result["systems"] and "records no training data" in result["baseline_skipped"]
    assert any("baseline skipped" in n for n in result["notes"])
    # --baseline-train overrides the artifact (dev carved from it when none is given)
    result = evaluate(EvalConfig(model=tiny_artifact, data=[str(setup.test)], n_boot=20,
                                 baseline_train=[str(setup.train)], progress=False))
    info = result["systems"]["baseline"]["baseline"]
    assert info["train"]["source"] == "command line" and info["dev"]["carved"]


# ----------------------------------------------------------------------------- end to end

def test_full_run_metrics_json(full_run: SimpleNamespace, setup: SimpleNamespace) -> None:
    r = full_run.result
    assert r["labels"] == TOY_LABELS and set(r["systems"]) == {"model", "baseline", "compare"}
    assert r["data"]["units"] == len(setup.test_rows) and r["data"]["fingerprint"].startswith("sha256:")
    assert r["model"]["fingerprint"].startswith("sha256:") and r["versions"]["scikit_learn"]
    assert r["command"][1:3] == ["evaluate", "--model"] or "evaluate" in " ".join(r["command"])
    assert r["settings"]["bootstrap"]["resample_unit"] == "article"
    assert r["settings"]["bootstrap"]["groups"] == len({row["article_id"] for row in setup.test_rows})
    model = r["systems"]["model"]
    for lab in TOY_LABELS:
        entry = model["per_label"][lab]
        assert entry["recall"] == 1.0 and entry["threshold"] == 0.0 and entry["threshold_source"] == "tuned"
        assert entry["f1_ci"]["low"] <= entry["f1"] <= entry["f1_ci"]["high"]
        assert {"precision", "support", "roc_auc", "average_precision", "ece"} <= set(entry)
    ov = model["overall"]
    assert {"micro_f1", "macro_f1", "weighted_f1", "samples_f1", "subset_accuracy", "hamming_loss"} <= set(ov)
    assert model["calibration"]["ece"] is not None and len(model["calibration"]["bins"]) == 10
    base = r["systems"]["baseline"]
    assert base["overall"]["macro_f1"] > ov["macro_f1"]  # the untrained model is beaten
    assert base["baseline"]["train"]["passages"] == 120 and base["baseline"]["dev"]["passages"] == 60
    # toy texts repeat across the toy files: the leak check must notice and say so
    overlap = base["baseline"]["overlap_with_evaluation_data"]
    assert overlap > 0 and any(f"{overlap} of {len(setup.test_rows)} evaluation records" in n for n in r["notes"])
    tests = {(c["b"], c["metric"]): c for c in r["comparisons"]}
    assert set(tests) == {("compare", "macro_f1"), ("compare", "micro_f1"),
                          ("baseline", "macro_f1"), ("baseline", "micro_f1")}
    for c in tests.values():
        assert 0.0 <= c["p_value"] <= 1.0
    assert tests[("baseline", "macro_f1")]["p_value"] < 0.05
    # every passage lacking a label is a listed FP; the script passage is one of them
    assert sum(e["id"] == "script" for e in model["errors"]) == 3


def test_reports_written_and_escaped(full_run: SimpleNamespace) -> None:
    html = (full_run.out / "report.html").read_text(encoding="utf-8")
    md = (full_run.out / "report.md").read_text(encoding="utf-8")
    assert "<script>document.title" not in html and "&lt;script&gt;document.title" in html
    assert "<script" not in html.lower().replace("&lt;script", "")
    assert "&lt;b&gt;story&lt;/b&gt;" in html
    assert "<script>" not in md and "&lt;script&gt;document.title" in md
    for fig in ("f1_bars", "pr_curves", "reliability", "cooccurrence"):
        assert (full_run.out / "figures" / f"{fig}.png").stat().st_size > 5000
        assert f'id="fig-{fig}"' in html and f"figures/{fig}.png" in md
    assert html.count('src="data:image/png;base64,') == 4
    assert "http://" not in html and "https://" not in html  # self-contained
    assert "TF-IDF baseline" in md and "paired bootstrap" in md.lower()


def test_rerender_from_json(full_run: SimpleNamespace, tmp_path: Path) -> None:
    from framescope.cli import main

    assert main(["evaluate", "--render", str(full_run.out / "metrics.json"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_renders_in_chromium(full_run: SimpleNamespace, tmp_path: Path, chromium_path: str) -> None:
    chromium = chromium_path
    shot = tmp_path / "report.png"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = (full_run.out / "report.html").resolve().as_uri()
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,2000", url],
                   check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 30_000
    dom = subprocess.run([*flags, "--dump-dom", url], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    assert "<title>Evaluation of eager</title>" in dom  # the passage's script never ran
    assert "pwned" in dom and "<script>document.title" not in dom


def test_article_level_and_recorded_test_data(setup: SimpleNamespace) -> None:
    result = evaluate(EvalConfig(model=setup.model, level="article", aggregate="noisy-or",
                                 baseline="none", n_boot=100, progress=False))
    articles = {r["article_id"] for r in setup.test_rows}
    assert result["data"]["paths"] == [str(setup.test)]
    assert result["data"]["units"] == len(articles) and result["data"]["pieces"] == len(setup.test_rows)
    assert result["settings"]["aggregate"] == "noisy-or"
    gold = {lab: sum(any(lab in r["labels"] for r in setup.test_rows if r["article_id"] == a)
                     for a in articles) for lab in TOY_LABELS}
    assert result["gold"]["support"] == gold
    assert result["baseline_skipped"].startswith("not requested")


def test_compare_requires_same_labels(setup: SimpleNamespace, tiny_base: Path, tmp_path: Path) -> None:
    from framescope.modeling import Artifact, build_model, save_artifact

    tax = Taxonomy.from_ids(["alpha", "beta", "delta"], id="other")
    model, tok = build_model(tiny_base, tax)
    other = save_artifact(Artifact(model, tok, tax, dict.fromkeys(tax.ids, 0.5), {"max_length": 64}),
                          tmp_path / "other")
    with pytest.raises(DataError, match="different label sets"):
        evaluate(EvalConfig(model=setup.model, data=[str(setup.test)], compare=other,
                            baseline="none", n_boot=20, progress=False))


def test_single_label_model(tiny_base: Path, tmp_path: Path) -> None:
    from framescope.modeling import Artifact, build_model, save_artifact

    tax = Taxonomy.from_ids(TOY_LABELS, id="toy")
    model, tok = build_model(tiny_base, tax, single_label=True)
    rows = [dict(r, labels=[TOY_LABELS[i % 3]]) for i, r in enumerate(toy_records(45, seed=6))]
    data = _write_jsonl(tmp_path / "single.jsonl", rows)
    path = save_artifact(Artifact(model, tok, tax, {}, {"max_length": 64, "problem_type": "single_label",
                                                        "data": {"train": {"paths": [str(data)]}}}),
                         tmp_path / "single")
    result = evaluate(EvalConfig(model=path, data=[str(data)], n_boot=50, progress=False))
    ov = result["systems"]["model"]["overall"]
    assert 0 <= ov["accuracy"] <= 1 and np.array(ov["confusion_matrix"]).sum() == 45
    assert np.array(ov["confusion_matrix"]).sum(1).tolist() == [15, 15, 15]
    assert result["systems"]["baseline"]["overall"]["accuracy"] is not None
    assert result["systems"]["model"]["calibration"]["kind"].startswith("top-label")
    paths = write_outputs(result, tmp_path / "out")
    assert "figure_confusion" in paths
    assert 'id="confusion"' in paths["report_html"].read_text(encoding="utf-8")


def test_evaluate_py_entry_point() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--help"], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0 and "--labels-map" in out.stdout and "--compare" in out.stdout


@pytest.mark.shared_data
def test_semeval_frames_labels_do_not_match_war_frames_model(setup: SimpleNamespace) -> None:
    folder = shared("semeval2023-t3-frames")
    with pytest.raises(DataError) as info:
        evaluate(EvalConfig(model=setup.model, data=[str(folder)], split="dev", level="article",
                            baseline="none", progress=False))
    assert "Security_and_defense" in str(info.value) and "alpha, beta, gamma" in str(info.value)


def test_baseline_uses_dev_carved_at_training_time(setup: SimpleNamespace, tmp_path: Path) -> None:
    from framescope.data import ReadOptions, load_passages, split_passages

    dev_spec = {"carved_from": "train", "ratio": 0.25, "group_by": "article_id", "seed": 13}
    model = _artifact_copy(setup.model, tmp_path / "carved",
                           data={"train": {"paths": [str(setup.train)]}, "dev": dev_spec})
    result = evaluate(EvalConfig(model=model, data=[str(setup.test)], n_boot=20, progress=False))
    info = result["systems"]["baseline"]["baseline"]
    train = load_passages([setup.train], ReadOptions(labels_required=True)).passages
    parts = split_passages(train, ratios={"train": 0.75, "dev": 0.25}, group_by="article_id", seed=13)
    assert info["dev"]["passages"] == len(parts["dev"]) and info["train"]["units"] == len(parts["train"])
    assert "as at training time" in info["dev"]["carved"]
    # a changed training file: the baseline is skipped (or refused when required), never silently
    stale = _artifact_copy(setup.model, tmp_path / "stale",
                           data={"train": {"paths": [str(setup.train)], "fingerprint": "sha256:0"}})
    result = evaluate(EvalConfig(model=stale, data=[str(setup.test)], n_boot=20, progress=False))
    assert "changed since training" in result["baseline_skipped"]
