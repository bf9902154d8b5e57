"""The active-learning and training-defaults benchmarks' bookkeeping (no training here)."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import _common
import active_learning
import train_defaults


def _row(strategy: str, seed: int, labels: int, f1: float) -> dict:
    return {"task": "babe", "strategy": strategy, "seed": seed, "labels": labels, "macro_f1": f1}


def test_goal_check_uses_random_at_the_largest_size() -> None:
    rows = [_row("random", s, n, 0.5 + n / 10_000) for s in (1, 2) for n in (100, 600, 1000)]
    rows += [_row("uncertainty", s, n, 0.5 + n / 5_000) for s in (1, 2) for n in (100, 600, 1000)]  # 0.62 at 600
    rows += [_row("mixed", s, n, 0.5 + n / 20_000) for s in (1, 2) for n in (100, 600, 1000)]
    goal = active_learning.summarise(rows, 1000)["babe"]["goal"]
    assert goal["random_at_max"]["mean"] == 0.6 and goal["random_at_max"]["seeds"] == 2
    assert goal["uncertainty"] == {"labels_to_reach_random_at_max": 600, "met": True}
    assert goal["mixed"] == {"labels_to_reach_random_at_max": None, "met": False}


def test_tuned_is_chosen_on_dev_not_test() -> None:
    def row(recipe: str, seed: int, dev: float, test: float) -> dict:
        return {"task": "babe", "recipe": recipe, "seed": seed, "dev_macro_f1_at_0.5": dev, "test_macro_f1": test,
                "epochs_run": 3, "best_epoch": 2, "seconds": 60, "stop_reason": "early stopping: 2 epochs"}

    rows = [row("default", 1, 0.70, 0.50), row("full-finetune", 1, 0.60, 0.90),
            row("default", 2, 0.60, 0.55), row("full-finetune", 2, 0.65, 0.45)]
    tuned = train_defaults.summarise(rows)["babe"]["recipes"]["tuned"]
    assert tuned["chosen"] == ["default", "full-finetune"]
    assert abs(tuned["mean"] - 0.475) < 1e-9  # the dev-chosen runs' test scores, not the best test


def test_write_section_replaces_between_markers_or_appends(tmp_path: Path) -> None:
    md = tmp_path / "RESULTS.md"
    md.write_text("# Results\n\nkeep me\n", encoding="utf-8")
    _common.write_section(md, "<!-- b -->", "<!-- e -->", "<!-- b -->\none\n<!-- e -->")
    _common.write_section(md, "<!-- b -->", "<!-- e -->", "<!-- b -->\ntwo\n<!-- e -->")
    text = md.read_text(encoding="utf-8")
    assert "keep me" in text and "two" in text and "one" not in text and text.count("<!-- b -->") == 1


def test_a_bundle_names_the_backbone_it_carries(tiny_base: Path, tmp_path: Path) -> None:
    """Results from a bundle name its backbone: the one packed, not always the default."""
    assert active_learning.backbone_name(None) == "all-MiniLM-L6-v2"
    assert active_learning.backbone_name("mpnet") == "all-mpnet-base-v2"
    active_learning.write_bundle(tmp_path / "b", [], str(tiny_base))
    assert active_learning.bundle_backbone_name(tmp_path / "b") == f"{tiny_base} (float16 copy, cast back to float32)"
    assert (active_learning.unpack_backbone(tmp_path / "b") / "model.safetensors").is_file()
    (tmp_path / "b" / "backbone" / active_learning.BUNDLE_NAME).unlink()  # a bundle from before the name
    assert active_learning.bundle_backbone_name(tmp_path / "b").startswith("all-MiniLM-L6-v2 ")
