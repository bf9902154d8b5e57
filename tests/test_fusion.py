"""TF-IDF fusion (``framescope fuse``): stored without pickle, chosen on dev data, and applied the
same way by every path that scores whole records (predict, evaluate, score, serve)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import TOY_LABELS, toy_records

from framescope.cli import main

LONG = {"id": "long", "article_id": "long", "title": "Harbour day", "labels": ["beta"],
        "text": "\n\n".join(f"Paragraph {i}: the boats harbour sailing story, and the guitars "
                            f"concert music of part {i} with many more words to fill it." for i in range(5))}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fused(tiny_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fused tiny model (random network, TF-IDF fitted on cue-word toy data)."""
    d = tmp_path_factory.mktemp("fuse")
    train = _write(d / "train.jsonl", toy_records(90, seed=1))
    dev = _write(d / "dev.jsonl", toy_records(45, seed=2))
    out = d / "fused"
    assert main(["fuse", "--model", str(tiny_artifact), "--out", str(out), "--train", str(train),
                 "--dev", str(dev), "--min-positives", "3"]) == 0
    return {"path": out, "train": train, "dev": dev, "dir": d, "tiny": tiny_artifact}


def test_tfidf_arrays_round_trip_without_pickle() -> None:
    from framescope.baseline import TfidfBaseline
    from framescope.fusion import StoredTfidf

    texts = ["apple pie tasty", "boat trip sea", "apple tart", "sea boat sails", "pie crust apple"] * 4
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0]] * 4)
    fitted = TfidfBaseline(["a", "b", "c"]).fit(texts, y)
    arrays, terms = fitted.to_arrays()
    stored = StoredTfidf(["a", "b", "c"], arrays, terms, fitted.describe())
    probe = ["apple boat", "sea pie", "nothing known", "Äpple crúst"]
    assert np.abs(fitted.predict_proba(probe) - stored.predict_proba(probe)).max() < 1e-5
    assert stored.predict_proba(probe)[:, 2].tolist() == [0.0] * 4  # no positives: always 0
    arrays["coef"] = arrays["coef"][:, :-1]
    with pytest.raises(ValueError, match="'coef' should have shape"):
        StoredTfidf(["a", "b", "c"], arrays, terms, fitted.describe())


def test_choose_weight_takes_the_best_dev_micro_f1() -> None:
    from framescope.fusion_fit import choose_weight

    rng = np.random.default_rng(0)
    y = rng.random((80, 3)) < 0.4
    good = np.clip(y * 0.6 + rng.random((80, 3)) * 0.4, 0, 1)  # separates the classes
    noise = rng.random((80, 3))
    w, th, sources, table = choose_weight(y, noise, good, min_positives=3)
    assert w == min(table, key=lambda k: (-table[k], k)) and table[w] == 1.0
    assert w < 1.0 and table[1.0] < 0.9 and sources == ["tuned"] * 3 and th.shape == (3,)
    with pytest.raises(ValueError, match="'grid' parameter"):
        choose_weight(y, noise, good, grid=[1.5])


def test_fuse_stores_the_fusion_and_records_its_choice(fused: dict[str, Any]) -> None:
    from framescope.modeling import load_artifact

    path = fused["path"]
    assert {"tfidf.safetensors", "tfidf-vocabulary.json", "model.safetensors"} <= {p.name for p in path.iterdir()}
    assert not [p for p in path.iterdir() if p.suffix in (".pkl", ".bin", ".pt", ".joblib")]
    art = load_artifact(path)
    block = art.meta["fusion"]
    assert block["kind"] == "tfidf" and 0.0 <= art.fusion.weight <= 1.0
    table = {float(k): v for k, v in block["dev_micro_f1_by_weight"].items()}
    assert sorted(table) == [round(0.1 * i, 1) for i in range(11)]
    # a random network against a TF-IDF model of cue words: the dev data must prefer TF-IDF
    assert art.fusion.weight < 1.0 and table[art.fusion.weight] > table[1.0]
    assert table[art.fusion.weight] == max(table.values())
    assert set(art.thresholds.values()) == {0.5}  # the network's own thresholds are untouched
    assert art.fingerprint != load_artifact(fused["tiny"]).fingerprint  # fused scores, another stamp
    assert list(block["thresholds"]) == TOY_LABELS
    card = (path / "README.md").read_text(encoding="utf-8")
    assert "## Fusion with TF-IDF" in card and f"{art.fusion.weight:.1f} x this network's" in card


def test_record_scores_are_the_weighted_mean_everywhere(fused: dict[str, Any], tmp_path: Path) -> None:
    """predict_records, evaluate and score's article rows give one record the same fused score."""
    from framescope.data.schema import Passage
    from framescope.evaluation import EvalConfig, evaluate
    from framescope.inference import predict_records
    from framescope.modeling import load_artifact

    art = load_artifact(fused["path"])
    rows = [{k: v for k, v in r.items() if k != "article_id"} for r in toy_records(6, seed=5)] + [LONG]
    records = [Passage(id=r["id"], text=r["text"]) for r in rows]
    got = predict_records(art, records, precision="fp32")
    w = art.fusion.weight
    plain = load_artifact(fused["path"])
    plain.fusion = None
    network = predict_records(plain, records, precision="fp32").probs
    tfidf = art.fusion.tfidf.predict_proba([r.text for r in records])
    assert np.allclose(got.probs, w * network + (1 - w) * tfidf, atol=1e-6)
    assert (got.decisions == (got.probs >= art.fusion.thresholds)).all()
    assert len(got.pieces.passages) > len(records)  # the long record was cut into passages

    feed = _write(tmp_path / "feed.jsonl", rows)
    out = tmp_path / "scores.jsonl"
    assert main(["score", "--model", str(fused["path"]), str(feed), "--out", str(out), "--level", "both",
                 "--precision", "fp32", "-q"]) == 0
    articles = [json.loads(x) for x in (tmp_path / "scores.articles.jsonl").read_text().splitlines()]
    passages = [json.loads(x) for x in out.read_text().splitlines()]
    by_id = {a["article_id"]: a for a in articles}
    for i, r in enumerate(rows):
        key = r.get("article_id") or r["id"]
        scores = np.array([by_id[key]["scores"][lab] for lab in TOY_LABELS])
        assert np.abs(scores - got.probs[i]).max() < 1e-5, r["id"]
        assert by_id[key]["labels"] == [lab for lab, on in zip(TOY_LABELS, got.decisions[i]) if on]
    # passage rows keep the network's own scores
    first = next(p for p in passages if p["id"] == rows[0]["id"])
    assert np.allclose([first["scores"][lab] for lab in TOY_LABELS], network[0], atol=1e-5)

    labelled = _write(tmp_path / "labelled.jsonl", rows)
    res = evaluate(EvalConfig(model=fused["path"], data=[str(labelled)], baseline="none",
                              precision="fp32", n_boot=10, progress=False))
    model = res["systems"]["model"]
    assert model["fusion"]["weight"] == w
    gold = np.array([[lab in r["labels"] for lab in TOY_LABELS] for r in rows])
    tp = (gold & got.decisions).sum()
    want = 2 * tp / (gold.sum() + got.decisions.sum())
    assert model["overall"]["micro_f1"] == pytest.approx(want)


def test_an_article_of_several_records_is_fused_on_its_joined_text(fused: dict[str, Any]) -> None:
    from framescope.inference import combine, record_scores
    from framescope.modeling import load_artifact

    art = load_artifact(fused["path"])
    texts = ["apples orchard harvest today", "boats harbour sailing", "guitars concert music"]
    piece = np.array([[0.9, 0.1, 0.2], [0.2, 0.3, 0.1], [0.1, 0.2, 0.4]])
    got = record_scores(art, piece, [0, 0, 1], 2, texts=texts, text_owner=[0, 0, 1])
    joined = [texts[0] + "\n\n" + texts[1], texts[2]]
    want = art.fusion.scores(combine(piece, [0, 0, 1], 2, "max"), joined)
    assert np.allclose(got, want)
    assert not np.allclose(got, combine(piece, [0, 0, 1], 2, "max"))


def test_serve_article_rows_are_fused(fused: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    from framescope.data.schema import Passage
    from framescope.inference import predict_records
    from framescope.modeling import load_artifact
    from framescope.serving.app import create_app
    from framescope.serving.config import ServeConfig

    art = load_artifact(fused["path"])
    with TestClient(create_app(ServeConfig(model=str(fused["path"]), precision="fp32"), art)) as c:
        body = c.post("/v1/score", json={"texts": [LONG["text"]], "level": "article"}).json()
        info = c.get("/v1/model").json()
    assert info["fusion"]["weight"] == art.fusion.weight
    want = predict_records(art, [Passage(id="0", text=LONG["text"])], precision="fp32").probs[0]
    got = np.array([body["articles"][0]["scores"][lab] for lab in TOY_LABELS])
    assert np.abs(got - want).max() < 1e-5


def test_thresholds_command_retunes_the_fusion(fused: dict[str, Any], tmp_path: Path) -> None:
    from framescope.modeling import load_artifact

    out = tmp_path / "retuned"
    assert main(["thresholds", "--model", str(fused["path"]), "--dev", str(fused["dev"]),
                 "--policy", "fixed", "--out", str(out)]) == 0
    art = load_artifact(out)
    assert art.fusion is not None and art.fusion.thresholds.tolist() == [0.5] * 3
    assert art.fusion.info["thresholds_chosen"]["policy"] == "fixed"
    assert art.fusion.weight == load_artifact(fused["path"]).fusion.weight


def test_saving_without_the_fusion_drops_its_files(fused: dict[str, Any], tmp_path: Path) -> None:
    from framescope.modeling import load_artifact, save_artifact

    art = load_artifact(fused["path"])
    art.fusion = None  # what a model trained --from a fused one holds
    save_artifact(art, tmp_path / "plain")
    assert "fusion" not in json.loads((tmp_path / "plain" / "framescope.json").read_text())
    assert not list((tmp_path / "plain").glob("tfidf*"))
    assert load_artifact(tmp_path / "plain").fusion is None


def test_a_damaged_fusion_names_the_folder_and_the_fix(fused: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from framescope.modeling import ArtifactError, load_artifact

    broken = tmp_path / "broken"
    shutil.copytree(fused["path"], broken)
    (broken / "tfidf-vocabulary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"broken: cannot load the TF-IDF fusion .*framescope fuse"):
        load_artifact(broken)
    (broken / "tfidf-vocabulary.json").unlink()
    with pytest.raises(ArtifactError, match="TF-IDF fusion"):
        load_artifact(broken)


def test_fuse_refuses_without_dev_data_or_with_bad_weights(tiny_artifact: Path, fused: dict[str, Any],
                                                         tmp_path: Path, capsys) -> None:
    assert main(["fuse", "--model", str(tiny_artifact), "--out", str(tmp_path / "x"),
                 "--train", str(fused["train"])]) == 2
    assert "records no dev data; pass --dev PATH" in capsys.readouterr().err
    assert main(["fuse", "--model", str(tiny_artifact), "--out", str(tmp_path / "x"),
                 "--weights", "0.5", "2"]) == 2
    assert "--weights must lie in [0, 1]" in capsys.readouterr().err
    assert main(["fuse", "--model", str(tiny_artifact), "--out", str(tiny_artifact)]) == 2
    assert not (tmp_path / "x").exists()


def test_bench_fusion_renders_each_seed_and_the_mean() -> None:
    from conftest import bench_script

    fusion = bench_script("fusion")
    seed = {"seed": "0", "weight": 0.3, "network": {"micro_f1": 0.68, "macro_f1": 0.43},
            "tfidf": {"micro_f1": 0.705, "macro_f1": 0.371}, "fused": {"micro_f1": 0.723, "macro_f1": 0.438},
            "fused_vs_tfidf": {"micro_f1": {"difference": 0.018, "p_value": 0.231}}}
    ms = {"mean": 0.7, "sd": 0.02, "n": 3}
    r = {"run": "x--full", "metric": "micro_f1", "eval_data": ["dev.txt"], "seeds": [seed],
         "network": {"micro_f1": ms, "macro_f1": ms}, "tfidf": {"micro_f1": ms, "macro_f1": ms},
         "fused": {"micro_f1": ms, "macro_f1": ms}, "machine": {"cpu": "CPU", "cores": 2},
         "bench_run": "python bench/quality.py --task x --full", "seconds": 60, "peak_rss_mb": 900,
         "git_commit": "abc", "date": "2026-12-01T00:00:00", "commands": ["framescope fuse --model m --out f"]}
    md = fusion.render([r])
    assert md.startswith(fusion.BEGIN) and md.endswith(fusion.END)
    assert "| 0 | 0.3 | 0.680 / 0.705 / 0.723 | +0.018 (p 0.231) | 0.430 / 0.371 / 0.438 |" in md
    assert "framescope fuse --model m --out f" in md
