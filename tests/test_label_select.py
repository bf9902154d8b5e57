"""``framescope label select``: query strategies, the pool, the three output formats."""

from __future__ import annotations

import csv
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import TOY_LABELS

from framescope.labelling.strategies import choose, label_distances, uncertainty

# --------------------------------------------------------------------------- strategies


def test_uncertainty_picks_passages_nearest_the_thresholds() -> None:
    thresholds = np.array([0.3, 0.7])
    probs = np.array([[0.95, 0.05],   # far from both
                      [0.31, 0.10],   # just above label 0's threshold
                      [0.05, 0.68],   # just below label 1's threshold
                      [0.60, 0.99],
                      [0.00, 0.20]])
    picked = choose(probs, thresholds, 2, strategy="uncertainty", quota=0)
    assert picked.dtype == np.int64
    assert picked.tolist() == [1, 2]
    assert choose(probs, thresholds, 10, strategy="uncertainty", quota=0).tolist()[:2] == [1, 2]


def test_distances_are_scaled_by_the_room_beside_each_threshold() -> None:
    # 0.2 vs a 0.1 threshold is 1/9 of the way to certainty, 0.6 vs 0.5 is 1/5
    d = label_distances(np.array([[0.2, 0.6]]), np.array([0.1, 0.5]))
    assert d.round(4).tolist() == [[0.1111, 0.2]]
    assert choose(np.array([[0.6, 0.0], [0.0, 0.2]]), np.array([0.5, 0.1]), 1,
                  strategy="uncertainty", quota=0).tolist() == [1]


def test_single_label_uncertainty_is_the_top_two_margin() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.5, 0.1, 0.4]])
    assert uncertainty(probs, None, single_label=True).round(2).tolist() == [0.85, 0.05, 0.1]
    assert choose(probs, None, 2, strategy="uncertainty", single_label=True, quota=0).tolist() == [1, 2]


def test_quota_gives_a_rare_label_candidates() -> None:
    rng = np.random.default_rng(0)
    # label 0 is common and every passage sits near its threshold; label 2 is rare and far away
    probs = np.column_stack([0.5 + rng.uniform(-0.02, 0.02, 200), rng.uniform(0, 1, 200),
                             rng.uniform(0.0, 0.05, 200)])
    probs[17] = [0.99, 0.99, 0.3]  # sure of labels 0 and 1; the only one near label 2's threshold
    thresholds = np.array([0.5, 0.5, 0.5])
    plain = choose(probs, thresholds, 20, strategy="uncertainty", quota=0)
    assert 17 not in plain.tolist()
    shared = choose(probs, thresholds, 20, strategy="uncertainty", quota=0.3)
    assert 17 in shared.tolist()
    assert shared[0] == 17  # the rarest predicted label goes first
    assert len(set(shared.tolist())) == 20


def test_random_is_seeded() -> None:
    probs = np.random.default_rng(1).random((50, 3))
    t = np.full(3, 0.5)
    a = choose(probs, t, 10, strategy="random", seed=5)
    assert a.tolist() == choose(probs, t, 10, strategy="random", seed=5).tolist()
    assert a.tolist() != choose(probs, t, 10, strategy="random", seed=6).tolist()
    assert len(set(a.tolist())) == 10


def _clusters(k: int = 4, per: int = 15, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:k] * 10
    return np.vstack([rng.normal(c, 0.1, (per, 8)) for c in centres])


def test_diversity_covers_separated_clusters_and_is_seeded() -> None:
    emb = _clusters()
    probs = np.random.default_rng(2).random((60, 3))
    t = np.full(3, 0.5)
    picked = choose(probs, t, 4, strategy="diversity", embeddings=emb, seed=3)
    assert sorted(int(i) // 15 for i in picked) == [0, 1, 2, 3]
    again = choose(probs, t, 4, strategy="diversity", embeddings=emb, seed=3)
    assert picked.tolist() == again.tolist()
    with pytest.raises(ValueError, match="embeddings"):
        choose(probs, t, 4, strategy="diversity")


def test_mixed_is_diverse_among_the_uncertain() -> None:
    emb = _clusters()
    probs = np.full((60, 1), 0.99)
    probs[[3, 4, 20, 21, 40, 41, 50, 51], 0] = 0.5  # uncertain ones: two per cluster
    picked = choose(probs, np.array([0.5]), 2, strategy="mixed", embeddings=emb, quota=0)
    assert set(picked.tolist()) <= {3, 4, 20, 21, 40, 41, 50, 51}
    assert len({int(i) // 15 for i in picked}) == 2


def test_edges_n_zero_empty_pool_and_n_beyond_the_pool() -> None:
    probs = np.array([[0.1, 0.9], [0.5, 0.5], [0.8, 0.2]])
    t = np.array([0.5, 0.5])
    emb = np.eye(3)
    for strategy in ("random", "uncertainty", "diversity", "mixed"):
        assert choose(probs, t, 0, strategy=strategy, embeddings=emb).tolist() == []
        assert choose(probs[:0], t, 5, strategy=strategy, embeddings=emb[:0]).tolist() == []
        assert sorted(choose(probs, t, 9, strategy=strategy, embeddings=emb).tolist()) == [0, 1, 2]
    assert choose(probs, t, 9, strategy="uncertainty", quota=0).tolist()[0] == 1
    with pytest.raises(ValueError, match="'strategy'"):
        choose(probs, t, 1, strategy="entropy")
    with pytest.raises(ValueError, match="one threshold per label"):
        choose(probs, np.array([0.5]), 1, strategy="uncertainty")


# --------------------------------------------------------------------------- label select


WORDS = ["apples", "orchard", "harvest", "boats", "harbour", "sailing", "guitars", "concert", "music",
         "weather", "council", "budget", "river", "bridge", "school"]


def _records(n: int = 24) -> list[dict]:
    rows = []
    for i in range(n):
        a, b, c = WORDS[i % 15], WORDS[(3 * i + 1) % 15], WORDS[(7 * i + 2) % 15]
        text = f"Story {i} tells of {a} and {b} near the {c}."
        if i % 6 == 0:  # an article of two paragraphs: two passages with offsets
            text += f"\n\nA second paragraph {i} adds {c} and {a}."
        rows.append({"id": f"r{i}", "title": f"Title {i}", "url": f"https://example.org/{i}", "text": text})
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def feed(tmp_path: Path) -> Path:
    return _write_jsonl(tmp_path / "feed.jsonl", _records())


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    from framescope.cli import main

    code = main(["label", "select", "-q", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _ls_ids(path: Path) -> list[str]:
    return [t["data"]["id"] for t in json.loads(path.read_text(encoding="utf-8"))]


def test_label_studio_batch_and_config(tiny_artifact, feed, tmp_path, capsys) -> None:
    out = tmp_path / "batch.json"
    code, stdout, err = _run(capsys, "--model", tiny_artifact, feed, "--n", 5, "--out", out)
    assert code == 0, err
    assert "records read: 24 = accepted 24 + rejected 0" in stdout
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 5
    records = {r["id"]: r for r in _records()}
    for rank, task in enumerate(tasks, 1):
        data = task["data"]
        assert {"id", "text", "text_sha1", "source", "record_id", "start", "end", "article_id", "title",
                "url", "rank", "strategy", "scores"} <= set(data)
        assert data["rank"] == rank and data["strategy"] == "uncertainty" and data["source"] == "feed.jsonl"
        assert data["text_sha1"] == hashlib.sha1(data["text"].encode("utf-8")).hexdigest()
        assert records[data["record_id"]]["text"][data["start"]:data["end"]] == data["text"]
        assert set(data["scores"]) == set(TOY_LABELS)
        pred = task["predictions"][0]
        assert pred["model_version"].startswith("tiny@") and isinstance(pred["score"], float)
        chosen = [c for r in pred["result"] for c in r["value"]["choices"]]
        assert chosen == [lab for lab in TOY_LABELS if data["scores"][lab] >= 0.5]
        assert all(r["from_name"] == "frames" and r["to_name"] == "text" for r in pred["result"])
    root = ET.parse(tmp_path / "batch.label-config.xml").getroot()
    choices = root.find("Choices")
    assert root.find("Text").get("value") == "$text"
    assert choices.get("choice") == "multiple" and choices.get("toName") == "text"
    assert [(c.get("value"), c.get("hint")) for c in choices] == [(lab, lab.capitalize()) for lab in TOY_LABELS]
    # an existing batch is not replaced without --overwrite
    code, _, err = _run(capsys, "--model", tiny_artifact, feed, "--n", 5, "--out", out)
    assert code == 2 and "--overwrite" in err


def test_passage_ids_for_cut_articles(tiny_artifact, feed, tmp_path, capsys) -> None:
    out = tmp_path / "all.json"
    assert _run(capsys, "--model", tiny_artifact, feed, "--n", 100, "--out", out)[0] == 0
    tasks = json.loads(out.read_text(encoding="utf-8"))
    ids = [t["data"]["id"] for t in tasks]
    assert len(ids) == len(set(ids)) == 28  # 24 records, 4 of them two paragraphs
    cut = [t["data"] for t in tasks if t["data"]["record_id"] == "r0"]
    assert sorted(d["id"] for d in cut) == sorted(f"r0:{d['start']}-{d['end']}" for d in cut)
    assert any(t["data"]["id"] == "r1" for t in tasks)  # a one-passage record keeps its id


def test_config_xml_escapes_and_single_label(tmp_path) -> None:
    from framescope.data import Label, Taxonomy
    from framescope.labelling.exports import argilla_settings, label_config_xml

    tax = Taxonomy([Label("a&b", description='Says "<b>" & more'), Label("c")], id="t", name="Tiny <set>")
    xml = label_config_xml(tax, single_label=True)
    root = ET.fromstring(xml)
    assert root.find("Header").get("value").startswith("Tiny <set>")
    assert root.find("Choices").get("choice") == "single"
    assert [(c.get("value"), c.get("hint")) for c in root.iter("Choice")] == [("a&b", 'Says "<b>" & more'),
                                                                            ("c", "C")]
    assert argilla_settings(tax, single_label=True)["questions"][0]["type"] == "label_selection"


def test_argilla_batch_and_settings(tiny_artifact, feed, tmp_path, capsys) -> None:
    out = tmp_path / "batch.jsonl"
    code, _, err = _run(capsys, "--model", tiny_artifact, feed, "--n", 6, "--out", out,
                        "--model-version", "v1")
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 6
    for rec in records:
        assert set(rec) == {"id", "fields", "metadata", "suggestions", "responses", "vectors"}
        assert set(rec["fields"]) == {"text"}
        assert {"text_sha1", "source", "record_id", "start", "end", "rank", "strategy"} <= set(rec["metadata"])
        for name, sug in rec["suggestions"].items():
            assert name == "frames" and sug["agent"] == "v1"
            assert len(sug["value"]) == len(sug["score"]) >= 1 and set(sug["value"]) <= set(TOY_LABELS)
    settings = json.loads((tmp_path / "batch.argilla-settings.json").read_text(encoding="utf-8"))
    assert settings["fields"][0] == {"name": "text", "type": "text", "title": "Passage", "required": True}
    question = settings["questions"][0]
    assert question["name"] == "frames" and question["type"] == "multi_label_selection"
    assert question["labels"] == TOY_LABELS


def test_csv_batch_is_formula_safe(tiny_artifact, tmp_path, capsys) -> None:
    rows = [*_records(6), {"id": "evil", "text": '=HYPERLINK("http://x") says the council'}]
    feed = _write_jsonl(tmp_path / "f.jsonl", rows)
    out = tmp_path / "batch.csv"
    assert _run(capsys, "--model", tiny_artifact, feed, "--n", 50, "--out", out)[0] == 0
    with open(out, encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["id", "text", "text_sha1", "source", "record_id", "start", "end", "rank",
                              "strategy", "predicted", "p_alpha", "p_beta", "p_gamma", "labels"]
    assert len(table) == 8 and all(r["labels"] == "" for r in table)
    evil = next(r for r in table if r["id"] == "evil")
    assert evil["text"].startswith("'=HYPERLINK")
    for r in table:
        assert r["predicted"] == "; ".join(lab for lab in TOY_LABELS if float(r[f"p_{lab}"]) >= 0.5)


def test_exclude_by_id_and_by_normalised_text(tiny_artifact, feed, tmp_path, capsys) -> None:
    records = _records()
    labelled = _write_jsonl(tmp_path / "labelled.jsonl", [
        {"id": "r3", "text": "whatever text", "labels": ["alpha"]},
        {"id": "other", "text": "  " + records[5]["text"].upper().replace(" ", "\u00a0 ") + " ",
         "labels": []},
    ])
    repeat = _write_jsonl(tmp_path / "more.jsonl", [{"id": "copy7", "text": records[7]["text"] + "  "}])
    out = tmp_path / "b.json"
    code, stdout, err = _run(capsys, "--model", tiny_artifact, feed, repeat, "--n", 100, "--out", out,
                             "--exclude", labelled)
    assert code == 0, err
    ids = _ls_ids(out)
    assert "r3" not in ids and "r5" not in ids and "copy7" not in ids and "r7" in ids
    assert len(ids) == 28 - 2
    assert "2 already labelled (1 by id, 1 by text" in stdout and "1 repeated texts" in stdout


def test_seeded_selection_is_reproducible(tiny_artifact, feed, tmp_path, capsys) -> None:
    def ids(strategy: str, seed: int, name: str) -> list[str]:
        out = tmp_path / f"{name}.json"
        code, _, err = _run(capsys, "--model", tiny_artifact, feed, "--n", 6, "--strategy", strategy,
                            "--seed", seed, "--out", out)
        assert code == 0, err
        return _ls_ids(out)

    assert ids("random", 1, "a") == ids("random", 1, "b")
    assert ids("random", 1, "a2") != ids("random", 2, "c")
    for strategy in ("uncertainty", "diversity", "mixed"):
        first = ids(strategy, 4, f"{strategy}1")
        assert first == ids(strategy, 4, f"{strategy}2") and len(set(first)) == 6


def test_bad_input_stops_naming_file_and_line(tiny_artifact, tmp_path, capsys) -> None:
    rows = [json.dumps(r) for r in _records(5)]
    rows.insert(3, json.dumps({"id": "bad", "text": ""}))
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "b.json"
    code, _, err = _run(capsys, "--model", tiny_artifact, feed, "--n", 3, "--out", out)
    assert code == 2
    assert f"{feed}:4" in err and "'text'" in err
    assert not out.exists() and not (tmp_path / "b.label-config.xml").exists()


def test_skip_policy_counts_add_up(tiny_artifact, tmp_path, capsys) -> None:
    lines = [json.dumps(r) for r in _records(5)] + ['{"id": "x1", "text": ""}', "{not json", '{"id": 5}']
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "b.csv"
    errors = tmp_path / "rejected.jsonl"
    code, stdout, err = _run(capsys, "--model", tiny_artifact, feed, "--n", 3, "--out", out,
                             "--on-error", "skip", "--errors", errors)
    assert code == 0, err
    assert "records read: 8 = accepted 5 + rejected 3" in stdout
    assert len(errors.read_text(encoding="utf-8").splitlines()) == 3
    with open(out, encoding="utf-8", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 3


def test_n_beyond_the_pool_returns_it_all(tiny_artifact, tmp_path, capsys) -> None:
    feed = _write_jsonl(tmp_path / "small.jsonl", _records(4)[1:])
    for strategy in ("uncertainty", "diversity", "mixed", "random"):
        out = tmp_path / f"{strategy}.json"
        code, stdout, err = _run(capsys, "--model", tiny_artifact, feed, "--n", 50, "--strategy", strategy,
                                 "--out", out)
        assert code == 0, err
        assert sorted(_ls_ids(out)) == ["r1", "r2", "r3"] and "the whole pool" in stdout


def test_embeddings_are_order_independent(tiny_artifact) -> None:
    from framescope.inference import embed
    from framescope.modeling import load_artifact

    art = load_artifact(tiny_artifact)
    texts = ["Boats in the harbour.", "A much longer sentence about apples, orchards and the harvest.", "Hi"]
    a = embed(art, texts, batch_size=2)
    b = embed(art, texts[::-1], batch_size=1)
    assert a.shape == (3, 32)
    np.testing.assert_allclose(a, b[::-1], atol=1e-5)
    assert embed(art, []).shape[0] == 0


def test_single_label_model_batches(tiny_base, toy_taxonomy, feed, tmp_path, capsys) -> None:
    from framescope.modeling import Artifact, build_model, save_artifact

    model, tok = build_model(tiny_base, toy_taxonomy, single_label=True)
    art = Artifact(model, tok, toy_taxonomy, dict.fromkeys(toy_taxonomy.ids, 0.5),
                   {"name": "single", "max_length": 64, "problem_type": "single_label",
                    "base_model": {"name": "tiny", "path": str(tiny_base)}})
    path = save_artifact(art, tmp_path / "single")
    assert _run(capsys, "--model", path, feed, "--n", 4, "--out", tmp_path / "s.json")[0] == 0
    root = ET.parse(tmp_path / "s.label-config.xml").getroot()
    assert root.find("Choices").get("choice") == "single"
    for task in json.loads((tmp_path / "s.json").read_text(encoding="utf-8")):
        (choice,) = task["predictions"][0]["result"][0]["value"]["choices"]
        assert choice == max(task["data"]["scores"], key=task["data"]["scores"].get)
    assert _run(capsys, "--model", path, feed, "--n", 4, "--out", tmp_path / "s.jsonl")[0] == 0
    for line in (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines():
        sug = json.loads(line)["suggestions"]["frames"]
        assert isinstance(sug["value"], str) and isinstance(sug["score"], float)
    settings = json.loads((tmp_path / "s.argilla-settings.json").read_text(encoding="utf-8"))
    assert settings["questions"][0]["type"] == "label_selection"
