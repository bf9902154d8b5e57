"""Shared fixtures: a tiny random-weight BERT built from a config (offline), toy data."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "FRAMESCOPE_CACHE" not in os.environ:  # tokenised datasets, ONNX exports: never in ~/.cache
    import tempfile

    os.environ["FRAMESCOPE_CACHE"] = tempfile.mkdtemp(prefix="framescope-test-cache-")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TOY_LABELS = ["alpha", "beta", "gamma"]


def bench_script(stem: str) -> ModuleType:
    """A script under bench/ loaded as a module (``bench_<stem>``; loaded once per session)."""
    name = f"bench_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses in the script look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


def shared(name: str) -> Path:
    """A folder under ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"../shared/data/{name} not found (public benchmark data is optional)")
    return path


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight BERT (2 layers, hidden 32) with the MiniLM tokenizer, saved locally."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from framescope.modeling import resolve_base

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-base")
    tok = AutoTokenizer.from_pretrained(resolve_base(None))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=48, max_position_embeddings=512)
    BertModel(config).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def toy_taxonomy():
    from framescope.data import Taxonomy

    return Taxonomy.from_ids(TOY_LABELS, id="toy")


TOY_WORDS = {"alpha": "apples orchard harvest", "beta": "boats harbour sailing",
             "gamma": "guitars concert music"}


def toy_records(n: int = 60, seed: int = 0) -> list[dict]:
    """Labelled records whose labels follow cue words (learnable by a tiny model)."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        labs = [lab for lab in TOY_LABELS if rng.random() < 0.35]
        words = " ".join(TOY_WORDS[lab] for lab in labs) or "weather report today"
        art = i // 3
        rows.append({"id": f"t{i}", "article_id": f"art{art}", "outlet": f"Outlet {art % 4}",
                     "published": f"2023-0{1 + art % 9}-1{art % 10}",
                     "text": f"Item {i}: the {words} story number {i}.", "labels": labs})
    return rows


@pytest.fixture()
def toy_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in toy_records()), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_artifact(tiny_base: Path, toy_taxonomy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained framescope artifact on the tiny backbone (thresholds 0.5)."""
    from framescope.modeling import Artifact, build_model, save_artifact

    model, tok = build_model(tiny_base, toy_taxonomy)
    art = Artifact(model, tok, toy_taxonomy, dict.fromkeys(toy_taxonomy.ids, 0.5),
                   {"name": "tiny", "max_length": 64, "problem_type": "multi_label",
                    "base_model": {"name": "tiny", "path": str(tiny_base)}})
    return save_artifact(art, tmp_path_factory.mktemp("models") / "tiny")


# --------------------------------------------------------------------------- browsers

#: Executable names of a Chromium-family browser, in order of preference.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def in_ci() -> bool:
    """True under CI (``CI=true``): a missing browser is then a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(reason: str, ci_installs: str = "chromium with apt-get") -> None:
    """Skip a test for a missing tool, or fail it under CI, where every tool must be there
    (``ci_installs``: what .ci/run installs for it, and how)."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run, not skip; .ci/run installs {ci_installs})",
                    pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    """The path of a Chromium-family browser on PATH, or None."""
    import shutil

    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The headless browser of every browser test: skipped when absent, failed under CI=true."""
    path = find_chromium()
    if path is None:
        missing("no chromium on PATH (apt-get install chromium)")
    return path  # type: ignore[return-value]


# ---------------------------------------------------------------- label import (test_label_*)


@pytest.fixture()
def tax(tmp_path: Path) -> Path:
    """A toy taxonomy file with the labels alpha, beta, gamma."""
    path = tmp_path / "toy.yaml"
    path.write_text("id: toy\nlabels: [alpha, beta, gamma]\n", encoding="utf-8")
    return path


def run_label_import(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``framescope label import ARGV…`` in-process: (exit code, stdout, stderr)."""
    from framescope.cli import main

    code = main(["label", "import", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def jsonl_rows(path: Path) -> list[dict]:
    """The JSON objects of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def import_counts(stdout: str) -> tuple[int, ...]:
    """(read, accepted, rejected, awaiting) from label import's summary line, checking that they add up."""
    line = next(x for x in stdout.splitlines() if x.startswith("read "))
    nums = [int(w) for w in line.replace("(", " ").replace(")", " ").split() if w.isdigit()]
    read, accepted, rejected, awaiting = (*nums, 0)[:4]
    assert read == accepted + rejected + awaiting, line
    return read, accepted, rejected, awaiting
