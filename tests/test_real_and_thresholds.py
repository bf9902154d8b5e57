"""The real-text yardstick (labels here, text in ../shared), threshold policies, the cue baseline,
and the newcomer traps of issue 11 (a `label` column, ignored label columns, start > end)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SHARED_DATA, TOY_LABELS, toy_records

from framescope.cli import main
from framescope.data import DataError, Taxonomy, load_passages, read_passages
from framescope.thresholds import choose_thresholds, tune_thresholds

REAL = ROOT / "data" / "real"
needs_shared = pytest.mark.skipif(not (SHARED_DATA / "semeval2023-t3-frames").exists(),
                                  reason="../shared/data absent: the yardstick's text lives there")


# ----------------------------------------------------------------------------- real-text yardstick


@needs_shared
def test_real_labels_rebuild_and_verify_every_paragraph() -> None:
    from framescope.data import DEFAULT_TAXONOMY, load_taxonomy
    from framescope.data.real import longest_shared_run

    tax = load_taxonomy(DEFAULT_TAXONOMY)
    data = load_passages([REAL / "real-dev.tsv", REAL / "real-test.tsv"], taxonomy=tax)
    ps = data.passages
    assert data.stats.rejected == 0 and len(ps) == 599
    assert {p.split for p in ps} == {"real-dev", "real-test"}
    assert sum(p.meta["set"] == "offtopic" for p in ps) == 150
    assert all(len(p.text.split()) >= 15 for p in ps)
    # articles never straddle real-dev and real-test
    dev_arts = {p.article_id for p in ps if p.split == "real-dev"}
    assert not dev_arts & {p.article_id for p in ps if p.split == "real-test"}
    # rationales are our own words: at most 5 consecutive words shared with the paragraph
    assert max(longest_shared_run(p.meta["rationale"], p.text) for p in ps) <= 5
    # agreement figures match the passes they were computed from
    agreement = json.loads((REAL / "agreement.json").read_text())
    assert agreement["paragraphs"] == 599 and agreement["frames"]["escalation_threat"]["kappa"] is not None


@needs_shared
def test_real_labels_fail_loudly_on_a_changed_paragraph(tmp_path: Path) -> None:
    rows = (REAL / "real-dev.tsv").read_text(encoding="utf-8").splitlines()
    cells = rows[1].split("\t")
    cells[2] = "0" * 40  # a sha1 that matches nothing
    bad = tmp_path / "real-dev.tsv"
    bad.write_text("\n".join([rows[0], "\t".join(cells), *rows[2:5]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"real-dev.tsv:2: field 'sha1': paragraph .* has sha1"):
        load_passages([bad])


def test_real_labels_without_shared_data_say_where_the_text_is(tmp_path: Path, monkeypatch) -> None:
    import framescope.data.real as real

    monkeypatch.setattr(real, "shared_root", lambda: None)
    path = tmp_path / "real-dev.tsv"
    path.write_text("file\tparagraph\tsha1\tset\tlabels\trationale\nx.txt\t1\tab\twar\t\tnone\n",
                    encoding="utf-8")
    with pytest.raises(DataError, match=r"text is rebuilt from \.\./shared/data"):
        load_passages([path])


def test_longest_shared_run() -> None:
    from framescope.data.real import longest_shared_run

    assert longest_shared_run("the West fights Russia through Kyiv", "they say the West fights Russia") == 4
    assert longest_shared_run("nothing alike", "completely different words") == 0


# ----------------------------------------------------------------------------- thresholds


def test_threshold_policies() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((60, 2)) < 0.3).astype(int)
    p = np.clip(y * 0.5 + rng.random((60, 2)) * 0.5, 0, 1)
    tuned, _ = tune_thresholds(y, p, min_positives=3)
    n = y.sum(0)
    shrunk, ssrc = choose_thresholds(y, p, policy="shrunk", min_positives=3, shrink=10)
    assert ssrc == ["shrunk", "shrunk"]
    assert shrunk == pytest.approx((n * tuned + 10 * 0.5) / (n + 10))
    assert np.all(np.abs(shrunk - 0.5) <= np.abs(tuned - 0.5))  # pulled toward the default
    fixed, fsrc = choose_thresholds(y, p, policy="fixed")
    assert fixed.tolist() == [0.5, 0.5] and fsrc == ["default", "default"]
    boot1, bsrc = choose_thresholds(y, p, policy="bootstrap", min_positives=3, seed=1, n_boot=50)
    boot2, _ = choose_thresholds(y, p, policy="bootstrap", min_positives=3, seed=1, n_boot=50)
    assert bsrc == ["bootstrap", "bootstrap"] and boot1.tolist() == boot2.tolist()
    with pytest.raises(ValueError, match="'policy' parameter"):
        choose_thresholds(y, p, policy="magic")


def test_the_global_policy_maximises_pooled_micro_f1_and_leaves_rare_labels_alone() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(3)
    y = (rng.random((200, 3)) < [0.3, 0.1, 0.0]).astype(int)
    y[:2, 2] = 1  # the third label has 2 dev positives: under the bar, it keeps 0.5
    p = np.clip(y * 0.35 + rng.random((200, 3)) * 0.6, 0, 1)
    t, src = choose_thresholds(y, p, policy="global", min_positives=5)
    assert src == ["global", "global", "default"] and t[0] == t[1] and t[2] == 0.5
    pooled = lambda cut: f1_score(y[:, :2].ravel(), (p[:, :2] >= cut).ravel().astype(int))  # noqa: E731
    best = pooled(t[0])
    assert all(best >= pooled(c) - 1e-12 for c in np.linspace(0.01, 0.99, 99))


def test_thresholds_command_rechooses_on_given_data(tiny_base: Path, tmp_path: Path, capsys) -> None:
    from framescope.modeling import load_artifact

    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in toy_records(60, seed=1)), encoding="utf-8")
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(r) + "\n" for r in toy_records(40, seed=2)), encoding="utf-8")
    assert main(["train", "--train", str(train), "--base", str(tiny_base), "--out", str(tmp_path / "m"),
                 "--epochs", "1", "--max-length", "32", "--freeze-layers", "0", "-q"]) == 0
    capsys.readouterr()
    assert main(["thresholds", "--model", str(tmp_path / "m"), "--dev", str(dev), "--policy", "fixed",
                 "--out", str(tmp_path / "m2")]) == 0
    assert "fixed, 40 passages" in capsys.readouterr().out
    new = load_artifact(tmp_path / "m2")
    assert set(new.thresholds.values()) == {0.5}
    assert new.meta["thresholds_chosen"]["policy"] == "fixed"
    assert new.meta["thresholds_chosen"]["passages"] == 40
    assert main(["thresholds", "--model", str(tmp_path / "m"), "--out", str(tmp_path / "m")]) == 2


# ----------------------------------------------------------------------------- cue baseline


def test_cue_baseline_matches_words_and_phrases() -> None:
    from framescope.baseline import CueBaseline

    tax = Taxonomy.from_dict({"labels": [{"id": "a", "cues": ["proxy war", "puppet"]},
                                         {"id": "b", "cues": ["sanctions"]}, {"id": "c"}]})
    base = CueBaseline(tax)
    probs = base.predict_proba(["A Proxy  War with a puppet.", "no cues", "sanctionsless"])
    assert probs[0].tolist() == pytest.approx([2 / 3, 0.0, 0.0])
    assert probs[1:].sum() == 0  # 'sanctionsless' is not the word 'sanctions'
    assert base.decide(probs).tolist() == [[True, False, False], [False] * 3, [False] * 3]
    with pytest.raises(DataError, match="lists no cue words"):
        CueBaseline(Taxonomy.from_ids(["x"]))


# ----------------------------------------------------------------------------- newcomer traps


def test_label_column_is_read_and_other_label_columns_are_warned_about(tmp_path: Path, caplog) -> None:
    path = tmp_path / "hf.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "label", "tags"])
        w.writerow(["1", "apples orchard", "alpha", "x"])
        w.writerow(["2", "boats", "beta", "y"])
    with caplog.at_level(logging.WARNING):
        ps = list(read_passages([path]))
    assert [p.labels for p in ps] == [["alpha"], ["beta"]]
    assert "'tags' look like labels but are ignored" in caplog.text
    out = tmp_path / "split"
    assert main(["data", "split", str(path), "--out", str(out), "--ratios", "0.5,0.5",
                 "--names", "a,b"]) == 0
    rows = [json.loads(line) for f in ("a", "b") for line in (out / f"{f}.jsonl").read_text().splitlines()]
    assert sorted(r["labels"][0] for r in rows) == ["alpha", "beta"]


def test_start_after_end_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "abc", "start": 5, "end": 2}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:1: field 'end': end offset 2 is before start offset 5"):
        load_passages([path])


def test_bundled_taxonomy_names(tmp_path: Path) -> None:
    from framescope.data import load_taxonomy

    assert load_taxonomy("default").ids[0] == "proxy_war"
    assert len(load_taxonomy("policy-frames").ids) == 14
    assert TOY_LABELS  # the toy fixtures stay independent of the bundled taxonomies


def test_validate_duplicates_flags_near_copies(tmp_path: Path, capsys) -> None:
    path = tmp_path / "d.jsonl"
    rows = [{"id": "1", "text": "The same words here again and again for a test."},
            {"id": "2", "text": "The same words here again and again for a test!"},
            {"id": "3", "text": "Something else entirely, about boats in the harbour."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["data", "validate", str(path)]) == 0
    capsys.readouterr()
    assert main(["data", "validate", str(path), "--duplicates"]) == 1
    out = capsys.readouterr().out
    assert "near duplicate" in out and "1 and 2" in out and "1 duplicate pair(s)" in out
