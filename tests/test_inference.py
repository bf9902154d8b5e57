"""The one passage path: cutting, combining, deciding, and training's dev figures equal
``framescope evaluate``'s on the same file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import TOY_LABELS, TOY_WORDS

from framescope.data import Passage, approx_tokens
from framescope.inference import (
    combine,
    cut_records,
    decide,
    default_combine,
    predict,
    predict_records,
    probabilities,
)


def test_combine_rules_and_defaults() -> None:
    p = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.2]])
    owner = [0, 0, 1]
    assert combine(p, owner, 2, "max").tolist() == [[0.9, 0.7], [0.2, 0.2]]
    assert combine(p, owner, 2, "mean") == pytest.approx(np.array([[0.6, 0.4], [0.2, 0.2]]))
    assert combine(p, owner, 2, "noisy-or")[0] == pytest.approx([1 - 0.1 * 0.7, 1 - 0.9 * 0.3])
    # a mean of class distributions is a distribution; a max is not
    assert combine(p, owner, 2, "mean").sum(1) == pytest.approx([1.0, 0.4])
    assert default_combine(single_label=True) == "mean" and default_combine(single_label=False) == "max"


def test_decide_thresholds_and_argmax() -> None:
    probs = np.array([[0.6, 0.55], [0.2, 0.1]])
    assert decide(probs, [0.5, 0.6], single_label=False).tolist() == [[True, False], [False, False]]
    assert decide(probs, [0.99, 0.99], single_label=True).tolist() == [[True, False], [True, False]]
    assert probabilities(np.array([[0.0, 0.0]]), single_label=False).tolist() == [[0.5, 0.5]]


def test_cut_records_whole_or_paragraphs() -> None:
    short = Passage(id="s", text="One short paragraph.\n\nAnd another one.", index=4)
    long = Passage(id="l", text="\n\n".join(f"Paragraph {i} has a few words in it." for i in range(5)))
    kept = cut_records([short, long], approx_tokens, 30)
    assert [p.id for p in kept.passages][:1] == ["s"] and kept.owner.tolist()[0] == 0
    assert kept.cut == 1 and kept.owner.tolist()[1:] == [1] * (len(kept.passages) - 1)
    assert all(long.text[p.start:p.end] == p.text for p in kept.passages[1:])
    every = cut_records([short], approx_tokens, 30, paragraphs=True)
    assert [p.id for p in every.passages] == ["s#0", "s#1"]


def test_predict_takes_a_string_or_a_list(tiny_artifact: Path) -> None:
    from framescope.modeling import load_artifact

    art = load_artifact(tiny_artifact)
    one = predict(art, "apples orchard harvest")
    many = predict(art, ["apples orchard harvest", "boats"])
    assert isinstance(one, list) and all(isinstance(x, str) for x in one)
    assert len(many) == 2 and many[0] == one
    found = predict_records(art, [Passage(id="a", text="apples " * 200)])
    assert found.pieces.cut == 1 and found.probs.shape == (1, 3)


def _single_label_rows(n: int, seed: int, long_every: int) -> list[dict]:
    """One label per record; every ``long_every``-th record is long: paragraphs carrying another
    label's cue words before or after its own, so max and mean of the pieces can disagree."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lab, other = TOY_LABELS[i % 3], TOY_LABELS[(i + 1) % 3]

        def para(label: str, k: int) -> str:
            return f"Note {k}: the {TOY_WORDS[label]} story."

        if long_every and i % long_every == 0:
            parts = ([para(other, 0)] + [para(lab, k) for k in range(1, 4)] if rng.random() < 0.5
                     else [para(other, 0), para(other, 1), para(lab, 2)])
            text = "\n\n".join(parts)
        else:
            text = para(lab, i)
        out.append({"id": f"r{seed}-{i}", "article_id": f"a{seed}-{i}", "text": text, "labels": [lab]})
    return out


def test_training_dev_metrics_equal_evaluate(tiny_base: Path, tmp_path: Path) -> None:
    """A single-label model whose dev records are longer than one passage: the dev figures
    recorded at training time are exactly what ``framescope evaluate`` computes on that file
    (both combine the pieces with the model's rule, the mean; the max would differ here)."""
    from framescope.evaluation import EvalConfig, evaluate
    from framescope.training import TrainConfig, train

    train_file, dev_file = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    for path, data in ((train_file, _single_label_rows(90, 1, 0)), (dev_file, _single_label_rows(45, 2, 2))):
        path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
    result = train(TrainConfig(train=[str(train_file)], dev=[str(dev_file)], base=str(tiny_base),
                               out=str(tmp_path / "m"), single_label=True, epochs=3, max_length=16,
                               lr=5e-3, batch_size=8, freeze_embeddings=False, freeze_layers=0),
                   progress=False)
    recorded = result.meta["metrics"]["dev"]
    assert result.meta["training"]["records_cut_into_passages"]["dev"] == 23
    ev = evaluate(EvalConfig(model=tmp_path / "m", data=[str(dev_file)], baseline="none", n_boot=10,
                             progress=False))
    assert ev["settings"]["aggregate"] == "mean" and ev["data"]["cut_records"] == 23
    overall = ev["systems"]["model"]["overall"]
    for key in ("macro_f1", "micro_f1", "accuracy"):
        assert recorded[key] == pytest.approx(overall[key], abs=1e-6), key
    for lab in TOY_LABELS:
        assert recorded["per_label"][lab]["f1"] == pytest.approx(
            ev["systems"]["model"]["per_label"][lab]["f1"] or 0.0, abs=1e-6)
    # the check can fail: combining by max (what evaluate did before) gives other figures here
    by_max = evaluate(EvalConfig(model=tmp_path / "m", data=[str(dev_file)], baseline="none",
                                 n_boot=10, progress=False, aggregate="max"))
    assert by_max["systems"]["model"]["overall"]["macro_f1"] != pytest.approx(recorded["macro_f1"], abs=1e-6)
