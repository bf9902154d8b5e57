"""framescope score: output schema, thresholds, aggregation, evidence, bad input, formats, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import TOY_LABELS, toy_records

from framescope.data import DataError
from framescope.inference import predict_proba
from framescope.scored import ArticleCombiner, output_paths, passage_columns
from framescope.scoring import ScoreConfig, score


def aggregate_articles(rows, labels, decide, method="max"):
    return ArticleCombiner(labels, decide, method=method).rows(rows)

LONG_ARTICLE = {
    "id": "long-1", "title": "A long article", "outlet": "Outlet L", "published": "2023-05-01",
    "url": "https://example.org/long-1",
    "text": ("Apples fill the orchard as the harvest begins. " * 12 + "\n\n"
             + "Boats crowd the harbour for the sailing season. " * 12 + "\n\n"
             + "Guitars ring out at the concert while music fills the hall. " * 3),
}


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def artifact(tiny_artifact):
    from framescope.modeling import load_artifact

    return load_artifact(tiny_artifact)


@pytest.fixture()
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    rows = [*toy_records(24), LONG_ARTICLE]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def quiet(**kw) -> ScoreConfig:
    return ScoreConfig(progress=False, **kw)


def test_passage_and_article_schema(artifact, feed, tmp_path):
    out = tmp_path / "out" / "scores.jsonl"
    summary = score(artifact, [feed], out, quiet(level="both", chunk_size=8))
    assert summary.outputs == output_paths(out, "both")
    assert summary.outputs["article"].name == "scores.articles.jsonl"
    rows = _read_jsonl(out)
    assert summary.passages == len(rows)
    assert all(list(r) == passage_columns() for r in rows)
    by_id = {r["id"]: r for r in rows}
    # a record that fits keeps its id; the long article is cut into ID#0, ID#1, ...
    assert "t0" in by_id and by_id["t0"]["article_id"] == "art0"
    long_rows = [r for r in rows if r["article_id"] == "long-1"]
    assert len(long_rows) >= 3
    assert [r["id"] for r in long_rows] == [f"long-1#{i}" for i in range(len(long_rows))]
    assert [r["index"] for r in long_rows] == list(range(len(long_rows)))
    for r in long_rows:
        assert LONG_ARTICLE["text"][r["start"]:r["end"]] == r["text"]
        assert r["outlet"] == "Outlet L" and r["published"] == "2023-05-01"
    for r in rows:
        assert set(r["scores"]) == set(TOY_LABELS)
        assert all(0.0 <= v <= 1.0 for v in r["scores"].values())
        assert r["model"] == {"name": "tiny", "fingerprint": artifact.fingerprint}
    # every passage fits the model: no truncation
    for r in rows:
        assert len(artifact.tokenizer(r["text"])["input_ids"]) <= artifact.max_length
    arts = _read_jsonl(summary.outputs["article"])
    assert summary.articles == len(arts) == len({r["article_id"] for r in rows})
    assert list(arts[0]) == ["article_id", "title", "outlet", "published", "url", "passages",
                             "scores", "labels", "best_passage", "model"]
    long_art = next(a for a in arts if a["article_id"] == "long-1")
    assert long_art["passages"] == len(long_rows)
    assert long_art["title"] == "A long article"
    for lab in TOY_LABELS:
        assert long_art["scores"][lab] == pytest.approx(max(r["scores"][lab] for r in long_rows))
        best = by_id[long_art["best_passage"][lab]]
        assert best["scores"][lab] == long_art["scores"][lab]
    # read = scored + rejected
    assert summary.stats.read == summary.stats.accepted == 25
    assert not list(out.parent.glob(".*framescope-run"))  # work folder removed


def test_thresholds_applied(artifact, feed, tmp_path):
    import copy

    art = copy.copy(artifact)
    art.thresholds = {"alpha": 0.0, "beta": 0.999999, "gamma": 0.5}
    out = tmp_path / "t.jsonl"
    score(art, [feed], out, quiet())
    rows = _read_jsonl(out)
    for r in rows:
        assert "alpha" in r["labels"] and "beta" not in r["labels"]
        assert ("gamma" in r["labels"]) == (r["scores"]["gamma"] >= 0.5)
    # a threshold between observed scores splits the rows: decisions follow the written scores
    mid = float(np.median([r["scores"]["gamma"] for r in rows]))
    art.thresholds = {"alpha": 1.0, "beta": 1.0, "gamma": mid}
    score(art, [feed], out, quiet(overwrite=True))
    rows = _read_jsonl(out)
    on = [r["scores"]["gamma"] >= mid for r in rows]
    assert 0 < sum(on) < len(rows)
    assert [("gamma" in r["labels"]) for r in rows] == on


def _row(pid, art, **scores):
    return {"id": pid, "article_id": art, "scores": scores, "title": None, "outlet": f"O-{art}",
            "published": None, "url": None}


def test_article_aggregation_max_noisy_or_and_scattered():
    rows = [_row("a#0", "a", x=0.2, y=0.6), _row("a#1", "a", x=0.7, y=0.6),
            _row("b", "b", x=0.1, y=0.1), _row("a#2", "a", x=0.5, y=0.9)]  # a is scattered
    def decide(p):
        return p >= 0.5

    arts = list(aggregate_articles(rows, ["x", "y"], decide, method="max"))
    assert [a["article_id"] for a in arts] == ["b", "a"]  # a closes at its last passage
    a = arts[1]
    assert a["passages"] == 3 and a["outlet"] == "O-a"
    assert a["scores"] == {"x": 0.7, "y": 0.9}
    assert a["best_passage"] == {"x": "a#1", "y": "a#2"}
    assert a["labels"] == ["x", "y"] and arts[0]["labels"] == []
    noisy = {r["article_id"]: r for r in aggregate_articles(lambda: rows, ["x", "y"], decide,
                                                             method="noisy-or")}
    assert noisy["a"]["scores"]["x"] == pytest.approx(1 - 0.8 * 0.3 * 0.5)
    assert noisy["b"]["scores"]["y"] == pytest.approx(0.1)
    # ties go to the first passage
    tie = list(aggregate_articles([_row("c#0", "c", x=0.4), _row("c#1", "c", x=0.4)], ["x"], decide))
    assert tie[0]["best_passage"] == {"x": "c#0"}
    with pytest.raises(ValueError, match="'method' parameter"):
        list(aggregate_articles(rows, ["x", "y"], decide, method="median"))


def test_evidence_finds_the_driving_word():
    from framescope.evidence import explain_passages, word_units

    def predict(texts):
        out = np.zeros((len(texts), 2))
        for i, t in enumerate(texts):
            out[i, 0] = 0.2 + 0.7 * ("apples" in t) + 0.05 * ("orchard" in t)
            out[i, 1] = 0.3
        return out

    texts = ["The apples in the orchard are ripe.", "Nothing here."]
    probs = predict(texts)
    spans = explain_passages(predict, texts, probs, [[0, 1], []], top_k=3)
    assert spans[1] == {}
    top = spans[0][0]
    assert top[0].text == "apples" and top[0].weight == pytest.approx(0.7)
    assert texts[0][top[0].start:top[0].end] == "apples"
    assert [s.text for s in top] == ["apples", "orchard"]
    assert spans[0][1] == []  # label 1 does not depend on any word
    # long texts are occluded in groups of words, never more than max_units
    assert len(word_units("w " * 500, max_units=40)) <= 40


def test_evidence_adjacent_words_merge_into_a_measured_phrase():
    from framescope.evidence import explain_passages

    def predict(texts):
        # the label needs both words: masking either one drops it; the phrase is measured whole
        return np.array([[0.9 if ("proxy" in t and "war" in t) else 0.4] for t in texts])

    text = "They call it a proxy war again."
    spans = explain_passages(predict, [text], predict([text]), [[0]])[0][0]
    assert spans[0].text == "proxy war"
    assert spans[0].weight == pytest.approx(0.5)


def test_evidence_end_to_end_spans_point_at_real_words(artifact, feed, tmp_path):
    import copy

    art = copy.copy(artifact)
    art.thresholds = {"alpha": 0.0, "beta": 1.0, "gamma": 1.0}  # every passage gets alpha
    out = tmp_path / "ev.jsonl"
    score(art, [feed], out, quiet(evidence=True, evidence_top_k=3))
    rows = _read_jsonl(out)
    assert all(list(r) == passage_columns(evidence=True) for r in rows)
    n_spans = 0
    for r in rows:
        assert set(r["evidence"]) == set(r["labels"]) == {"alpha"}
        spans = r["evidence"]["alpha"]
        assert len(spans) <= 3
        assert [s["weight"] for s in spans] == sorted((s["weight"] for s in spans), reverse=True)
        for s in spans:
            n_spans += 1
            assert 0 <= s["start"] < s["end"] <= len(r["text"])
            assert r["text"][s["start"]:s["end"]] == s["text"]
            assert re.fullmatch(r"\w.*\w|\w", s["text"])  # starts and ends on a word character
            assert s["weight"] > 0
    assert n_spans > 0


def test_bad_input_stop_writes_nothing(artifact, feed, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "ok", "text": "fine"}\n{"id": "x", "text": ""}\nnot json\n', encoding="utf-8")
    out = tmp_path / "o" / "scores.jsonl"
    with pytest.raises(DataError) as err:
        score(artifact, [feed, bad], out, quiet())
    msg = str(err.value)
    assert "2 bad input record(s); nothing was written" in msg
    assert f"{bad}:2: field 'text'" in msg and f"{bad}:3" in msg
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_bad_input_skip_counts_and_errors_file(artifact, feed, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "ok1", "text": "fine apples"}\n{"id": "x", "text": ""}\nnot json\n'
                   '{"id": "ok2", "text": "boats"}\n{"id": "t1", "text": "duplicate id"}\n',
                   encoding="utf-8")
    out = tmp_path / "s.jsonl"
    summary = score(artifact, [feed, bad], out, quiet(on_error="skip"))
    st = summary.stats
    assert st.read == st.accepted + st.rejected == 30
    assert st.rejected == 3
    assert summary.errors_path == tmp_path / "s.errors.jsonl"
    errors = _read_jsonl(summary.errors_path)
    assert [(e["source"], e["line"], e["field"]) for e in errors] == [
        (str(bad), 2, "text"), (str(bad), 3, "<record>"), (str(bad), 5, "id")]
    assert "duplicate id 't1'" in errors[2]["message"]
    ids = {r["id"] for r in _read_jsonl(out)}
    assert {"ok1", "ok2"} <= ids and "x" not in ids
    text = summary.describe()
    assert "records read: 30 = scored 27 + rejected 3" in text


def test_csv_and_parquet_hold_the_same_rows(artifact, feed, tmp_path):
    import csv

    import pyarrow.parquet as pq

    ref = tmp_path / "r.jsonl"
    score(artifact, [feed], ref, quiet(level="both", chunk_size=10))
    p_ref, a_ref = _read_jsonl(ref), _read_jsonl(tmp_path / "r.articles.jsonl")

    score(artifact, [feed], tmp_path / "c.csv", quiet(level="both", chunk_size=10))
    with open(tmp_path / "c.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == passage_columns()
    assert [r["id"] for r in rows] == [r["id"] for r in p_ref]
    assert [json.loads(r["scores"]) for r in rows] == [r["scores"] for r in p_ref]
    assert [json.loads(r["labels"]) for r in rows] == [r["labels"] for r in p_ref]
    assert json.loads(rows[0]["model"]) == p_ref[0]["model"]
    assert [int(r["start"]) for r in rows] == [r["start"] for r in p_ref]
    with open(tmp_path / "c.articles.csv", encoding="utf-8", newline="") as fh:
        arts = list(csv.DictReader(fh))
    assert [json.loads(a["best_passage"]) for a in arts] == [a["best_passage"] for a in a_ref]

    score(artifact, [feed], tmp_path / "p.parquet", quiet(level="both", chunk_size=10))
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column_names == passage_columns()
    assert table.to_pylist() == p_ref
    assert pq.read_table(tmp_path / "p.articles.parquet").to_pylist() == a_ref


def test_existing_output_needs_overwrite(artifact, feed, tmp_path):
    out = tmp_path / "x.jsonl"
    out.write_text("old\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"already exist.*--overwrite"):
        score(artifact, [feed], out, quiet())
    assert out.read_text(encoding="utf-8") == "old\n"
    score(artifact, [feed], out, quiet(overwrite=True))
    assert len(_read_jsonl(out)) > 20


def test_bad_settings_are_explained(artifact, feed, tmp_path):
    with pytest.raises(ValueError, match="The 'level' parameter must be one of passage"):
        ScoreConfig(level="sentence")
    with pytest.raises(DataError, match="cannot tell the output format"):
        score(artifact, [feed], tmp_path / "x.txt", quiet())
    with pytest.raises(DataError, match="--max-tokens 500 exceeds what the model reads"):
        score(artifact, [feed], tmp_path / "x.jsonl", quiet(max_tokens=500))


def test_predict_proba_is_order_independent_and_int8_close(artifact):
    texts = [r["text"] for r in toy_records(20)] + [LONG_ARTICLE["text"][:300]]
    p1 = predict_proba(artifact, texts, batch_size=4)
    p2 = predict_proba(artifact, texts[::-1], batch_size=7)[::-1]
    assert np.allclose(p1, p2, atol=1e-5)
    q = predict_proba(artifact, texts, batch_size=4, precision="int8")
    assert q.shape == p1.shape and np.abs(q - p1).max() < 0.05


def test_onnx_matches_fp32(artifact, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.setenv("FRAMESCOPE_CACHE", str(tmp_path / "cache"))
    texts = [r["text"] for r in toy_records(12)]
    ref = predict_proba(artifact, texts, precision="fp32")
    got = predict_proba(artifact, texts, precision="onnx")
    assert np.abs(got - ref).max() < 1e-4
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx"))


def test_cli_score(tiny_artifact, feed, tmp_path, capsys):
    from framescope.cli import main

    out = tmp_path / "cli.parquet"
    code = main(["score", "--model", str(tiny_artifact), str(feed), "--out", str(out),
                 "--level", "article", "-q"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "records read: 25 = scored 25 + rejected 0" in printed
    assert f"{out} (" in printed and "article rows" in printed
    assert out.exists()
    code = main(["score", "--model", str(tiny_artifact), str(feed), "--out", str(out), "-q"])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    assert "--resume" in capsys.readouterr().out


def test_duplicate_ids_are_found_after_the_id_index_grows(tmp_path):
    """The data module's compact id index (which keeps scoring memory flat) still finds
    duplicates, with where they were first seen, after it has been resized several times."""
    from framescope.data import ErrorLog, read_passages

    path = tmp_path / "many.jsonl"
    lines = [json.dumps({"id": f"r{i}", "text": f"text {i}"}) for i in range(5000)]
    lines += [json.dumps({"id": "r17", "text": "again"}), json.dumps({"id": "r4999", "text": "x"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = ErrorLog()
    got = list(read_passages([path], on_error="collect", log=log))
    assert len(got) == 5000
    assert [e.message for e in log.first] == [
        f"duplicate id 'r17' (first seen at {path}:18)",
        f"duplicate id 'r4999' (first seen at {path}:5000)"]
