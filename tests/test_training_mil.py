"""Multiple-instance training (``framescope train --record-loss max|noisy-or|mean``): the bag loss,
the bag datasets, and a run end to end on articles cut into passages (tiny random-weight model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TOY_LABELS, toy_records

from framescope.cli import main
from framescope.data import Taxonomy
from framescope.data.hf_dataset import BagCollator, to_bags, to_dataset
from framescope.data.schema import Passage
from framescope.inference import combine, predict_records
from framescope.modeling import load_artifact
from framescope.training import TrainConfig, train
from framescope.training.trainer import bag_log_probs


def _articles(n_records: int, seed: int) -> list[dict]:
    """Toy articles: three cue-word paragraphs each, labelled with the union of their labels."""
    arts: dict[str, dict] = {}
    for r in toy_records(n_records, seed=seed):
        a = arts.setdefault(r["article_id"], {"id": r["article_id"], "article_id": r["article_id"],
                                              "paras": [], "labels": set()})
        a["paras"].append(r["text"])
        a["labels"].update(r["labels"])
    return [{"id": a["id"], "article_id": a["article_id"], "text": "\n\n".join(a["paras"]),
             "labels": sorted(a["labels"])} for a in arts.values()]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the bag loss


@pytest.mark.parametrize("rule", ["max", "noisy-or", "mean"])
def test_bag_log_probs_match_the_combine_rule_of_scoring(rule: str) -> None:
    """The loss sees the same record score that scoring computes with inference.combine."""
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(0, 3, size=(7, 3)))
    bag = torch.tensor([0, 0, 1, 2, 2, 2, 1])
    log_p, log_q = bag_log_probs(logits, bag, 3, rule)
    expected = combine(torch.sigmoid(logits).numpy(), bag.numpy(), 3, rule)
    np.testing.assert_allclose(log_p.exp().numpy(), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(log_q.exp().numpy(), 1 - expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("rule", ["max", "noisy-or", "mean"])
def test_bag_loss_is_finite_with_extreme_logits(rule: str) -> None:
    logits = torch.tensor([[-60.0, 60.0], [-60.0, 0.0], [1e-9, -1e-9]], requires_grad=True)
    log_p, log_q = bag_log_probs(logits, torch.tensor([0, 0, 1]), 2, rule)
    loss = -(log_p.sum() + log_q.sum())
    loss.backward()
    assert torch.isfinite(log_p).all() and torch.isfinite(log_q).all()
    assert torch.isfinite(logits.grad).all()


def test_max_bag_loss_trains_only_the_top_passage_and_noisy_or_trains_all() -> None:
    logits = torch.tensor([[2.0], [-1.0], [0.5]], requires_grad=True)
    log_p, _ = bag_log_probs(logits, torch.tensor([0, 0, 0]), 1, "max")
    (-log_p.sum()).backward()
    assert logits.grad[0, 0] < 0 and logits.grad[1, 0] == 0 and logits.grad[2, 0] == 0
    logits.grad = None
    log_p, _ = bag_log_probs(logits, torch.tensor([0, 0, 0]), 1, "noisy-or")
    (-log_p.sum()).backward()
    assert (logits.grad < 0).all()  # every passage is pushed up for a positive bag


def test_mean_bag_loss_pushes_passages_by_their_room_to_move() -> None:
    """d log(mean p) / d z_i = p_i (1 - p_i) / sum(p): every passage of a positive bag rises, the
    undecided one most; in a negative bag every passage falls."""
    logits = torch.tensor([[4.0], [0.0], [-4.0]], requires_grad=True)
    log_p, log_q = bag_log_probs(logits, torch.tensor([0, 0, 0]), 1, "mean")
    (-log_p.sum()).backward()
    g = logits.grad[:, 0]
    assert (g < 0).all() and g[1] < g[0] and g[1] < g[2]
    p = torch.sigmoid(logits.detach())[:, 0]
    torch.testing.assert_close(-g, p * (1 - p) / p.sum())
    logits.grad = None
    (-log_q.sum()).backward()
    assert (logits.grad > 0).all()


def test_bag_rule_is_checked() -> None:
    with pytest.raises(ValueError, match="max, noisy-or or mean"):
        bag_log_probs(torch.zeros((1, 1)), torch.tensor([0]), 1, "median")


# ----------------------------------------------------------------------------- bag datasets


def test_bags_point_at_their_records_passages(tiny_base: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base)
    tax = Taxonomy.from_ids(TOY_LABELS, id="toy")
    pieces = [Passage(id=f"p{i}", text=f"apples piece {i} " + "word " * i, labels=[]) for i in range(5)]
    piece_ds = to_dataset(pieces, tax, tok, 32, cache=False)
    owner = np.array([0, 0, 2, 2, 2])  # record 1 has no passage and is left out
    y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    bags = to_bags(piece_ds, owner, y, mask=np.ones_like(y))
    assert bags["pieces"] == [[0, 1], [2, 3, 4]] and bags["row_index"] == [0, 2]
    assert bags["labels"] == [[1, 0, 0], [0, 0, 1]]
    assert bags["length"] == [sum(piece_ds["length"][:2]), sum(piece_ds["length"][2:])]
    batch = BagCollator(piece_ds, tok)([bags[0], bags[1]])
    assert batch["bag"].tolist() == [0, 0, 1, 1, 1]
    assert batch["input_ids"].shape[0] == 5 and batch["labels"].shape == (2, 3)
    assert batch["label_mask"].shape == (2, 3)
    plain = BagCollator(piece_ds, tok)([piece_ds[0], piece_ds[3]])  # dev/test rows: per passage
    assert "bag" not in plain and plain["labels"].shape == (2, 3)
    with pytest.raises(ValueError, match="owner"):
        to_bags(piece_ds, owner[:3], y)


# ----------------------------------------------------------------------------- end to end


def test_config_refuses_record_loss_where_it_cannot_apply() -> None:
    with pytest.raises(ValueError, match="multi-label"):
        TrainConfig(record_loss="max", single_label=True)
    with pytest.raises(ValueError, match="long-records cut"):
        TrainConfig(record_loss="noisy-or", long_records="truncate")
    with pytest.raises(ValueError, match="record_loss"):
        TrainConfig(record_loss="median")


def _train_on_articles(tiny_base: Path, tmp_path: Path, rule: str, *, n_records: int, seed: int,
                       epochs: int) -> tuple[Path, Path, dict]:
    """Toy articles trained multiple-instance by ``rule``: (data, model folder, training meta)."""
    data = _write(tmp_path / "articles.jsonl", _articles(n_records, seed=seed))
    out = tmp_path / rule
    cfg = TrainConfig(train=[str(data)], out=str(out), base=str(tiny_base), epochs=epochs, max_length=24,
                      lr=5e-3, batch_size=8, freeze_embeddings=False, freeze_layers=0,
                      min_dev_positives=3, record_loss=rule, dev_ratio=0.2)
    return data, out, train(cfg, progress=False).meta["training"]


def test_noisy_or_training_on_articles_end_to_end(tiny_base: Path, tmp_path: Path) -> None:
    """Articles over the token budget train as bags; the model then scores with noisy-OR."""
    data, out, tr = _train_on_articles(tiny_base, tmp_path, "noisy-or", n_records=150, seed=3, epochs=3)
    assert tr["record_loss"] == "noisy-or" and tr["combine"] == "noisy-or"
    assert "noisy-or of its passages' scores" in tr["loss"]
    assert tr["records_cut_into_passages"]["train"] == tr["train_records"] > 0
    assert tr["train_passages"] > tr["train_records"]  # several passages a record
    # about --batch-size passages a step: batch 8 over ~3 passages a record is 2-3 records
    per = tr["train_passages"] / tr["train_records"]
    assert tr["train_batch"] == max(1, round(8 / per))
    assert tr["steps_per_epoch"] == -(-tr["train_records"] // tr["train_batch"])
    losses = [h["train_loss"] for h in tr["history"]]
    assert len(losses) == 3 and losses[-1] < losses[0]  # it learns
    assert load_artifact(out).combine == "noisy-or"
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "combine by `noisy-or` (trained multiple-instance" in card
    rep = tmp_path / "rep"
    assert main(["evaluate", "--model", str(out), "--data", str(data), "--out", str(rep),
                 "--baseline", "none", "--no-reports", "--bootstrap", "10"]) == 0
    settings = json.loads((rep / "metrics.json").read_text())["settings"]
    assert settings["aggregate"] == "noisy-or"  # the model's rule, not the generic max
    # the one record path (framescope thresholds, predict) combines by the model's rule too
    art = load_artifact(out)
    recs = [Passage(id=r["id"], text=r["text"]) for r in _articles(30, seed=4)]
    found, n = predict_records(art, recs), len(recs)
    assert len(set(np.asarray(found.pieces.owner).tolist())) == n and len(found.pieces.owner) > n
    assert np.allclose(found.probs, combine(found.piece_probs, found.pieces.owner, n, "noisy-or"))
    assert not np.allclose(found.probs, combine(found.piece_probs, found.pieces.owner, n, "max"))


def test_mean_training_records_its_rule_and_scores_by_it(tiny_base: Path, tmp_path: Path) -> None:
    """``--record-loss mean``: the model's rule becomes ``mean`` for every later scoring."""
    _, out, tr = _train_on_articles(tiny_base, tmp_path, "mean", n_records=90, seed=6, epochs=1)
    assert tr["record_loss"] == "mean" and tr["combine"] == "mean"
    assert "mean of its passages' scores" in tr["loss"]
    art = load_artifact(out)
    assert art.combine == "mean"
    recs = [Passage(id=r["id"], text=r["text"]) for r in _articles(15, seed=7)]
    found = predict_records(art, recs)
    assert np.allclose(found.probs, combine(found.piece_probs, found.pieces.owner, len(recs), "mean"))


def test_records_that_fit_train_the_same_under_either_objective(tiny_base: Path, tmp_path: Path) -> None:
    """Bags of one passage reduce the bag loss to the passage loss: same seed, same model."""
    data = _write(tmp_path / "short.jsonl", toy_records(60, seed=5))
    common = dict(train=[str(data)], base=str(tiny_base), epochs=1, max_length=48, lr=5e-3,
                  batch_size=8, freeze_embeddings=False, freeze_layers=0, min_dev_positives=3)
    a = train(TrainConfig(out=str(tmp_path / "a"), **common), progress=False)
    b = train(TrainConfig(out=str(tmp_path / "b"), record_loss="max", **common), progress=False)
    assert b.meta["training"]["train_batch"] == 8 and b.meta["training"]["combine"] == "max"
    ha, hb = a.meta["training"]["history"][0], b.meta["training"]["history"][0]
    assert ha["dev_loss"] == pytest.approx(hb["dev_loss"], rel=1e-4)


def test_continued_training_keeps_replayed_records_whole(tiny_base: Path, tmp_path: Path) -> None:
    """--from with --record-loss: the replayed old articles become bags too, masked for new labels."""
    old_rows = [dict(r, labels=[x for x in r["labels"] if x != "gamma"]) for r in _articles(90, seed=6)]
    new_rows = _articles(60, seed=7)
    common = dict(max_length=24, lr=5e-3, batch_size=8, freeze_embeddings=False, freeze_layers=0,
                  min_dev_positives=2, epochs=1, record_loss="max")
    old_out = tmp_path / "old"
    train(TrainConfig(train=[str(_write(tmp_path / "old.jsonl", old_rows))], out=str(old_out),
                      base=str(tiny_base), taxonomy=None, **common), progress=False)
    assert load_artifact(old_out).taxonomy.ids == ["alpha", "beta"]
    tr = train(TrainConfig(train=[str(_write(tmp_path / "new.jsonl", new_rows))], out=str(tmp_path / "new"),
                           from_model=str(old_out), **common), progress=False).meta["training"]
    replayed = tr["train_passages"] - tr["new_passages"]
    assert replayed > 0 and tr["train_records"] > len(new_rows) * 0.8  # new + replayed articles
    assert "masked for labels the replayed data was not annotated for" in tr["loss"]
    assert load_artifact(tmp_path / "new").taxonomy.ids == ["alpha", "beta", "gamma"]


def test_the_dev_loss_is_the_multiple_instance_objective(tiny_base: Path, tmp_path: Path) -> None:
    """With --record-loss, the history's dev loss is taken on the records' combined scores (the
    training objective); the per-passage loss on inherited labels is kept beside it."""
    data = _write(tmp_path / "articles.jsonl", _articles(80, seed=4))
    cfg = TrainConfig(train=[str(data)], out=str(tmp_path / "m"), base=str(tiny_base), epochs=1,
                      max_length=24, lr=5e-3, batch_size=8, freeze_embeddings=False,
                      freeze_layers=0, min_dev_positives=3, record_loss="max", dev_ratio=0.2)
    h = train(cfg, progress=False).meta["training"]["history"][0]
    assert h["dev_loss"] > 0 and h["dev_passage_loss"] > 0
    # articles cut into several passages that all inherit the article's labels: the two differ
    assert h["dev_loss"] != pytest.approx(h["dev_passage_loss"], rel=1e-3)
