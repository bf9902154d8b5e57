"""Runtimes: the ONNX Runtime precisions against PyTorch fp32, their cache, and what ``auto`` picks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import toy_records

from framescope import runtime
from framescope.data.errors import DataError
from framescope.inference import decisions_of, predict_proba
from framescope.runtime import (
    AUTO_ONNX,
    RuntimeUnavailable,
    get_runner,
    onnx_model_path,
    precision_note,
    resolve_precision,
)

TEXTS = [r["text"] for r in toy_records(16)] + [
    "A much longer passage, so that the batch pads: " + "the harbour and the orchard " * 8,
    "Short.",
]


@pytest.fixture()
def artifact(tiny_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A freshly loaded tiny model (no cached runners) with its own empty cache folder."""
    from framescope.modeling import load_artifact

    monkeypatch.setenv("FRAMESCOPE_CACHE", str(tmp_path / "cache"))
    return load_artifact(tiny_artifact)


@pytest.fixture()
def needs_onnx() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")


def _cache_files(tmp_path: Path) -> list[str]:
    folder = tmp_path / "cache" / "onnx"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_onnx_opt_matches_fp32(artifact, needs_onnx) -> None:
    ref = predict_proba(artifact, TEXTS, precision="fp32", batch_size=5)
    got = predict_proba(artifact, TEXTS, precision="onnx-opt", batch_size=5)
    assert np.abs(got - ref).max() < 1e-5
    assert (decisions_of(artifact, got) == decisions_of(artifact, ref)).all()


def test_onnx_opt_fuses_the_transformer(artifact, needs_onnx) -> None:
    import onnx

    ops = {node.op_type for node in onnx.load(str(onnx_model_path(artifact, "onnx-opt"))).graph.node}
    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= ops


def test_onnx_opt_scores_do_not_depend_on_the_batch(artifact, needs_onnx) -> None:
    together = predict_proba(artifact, TEXTS, precision="onnx-opt", batch_size=64)
    alone = np.concatenate([predict_proba(artifact, [t], precision="onnx-opt") for t in TEXTS])
    assert (np.round(together.astype(np.float64), 7) == np.round(alone.astype(np.float64), 7)).all()


def test_onnx_int8_is_close_and_keeps_ffn_outputs_float(artifact, needs_onnx) -> None:
    import onnx
    from onnx import numpy_helper

    ref = predict_proba(artifact, TEXTS, precision="fp32")
    got = predict_proba(artifact, TEXTS, precision="onnx-int8")
    assert np.abs(got - ref).max() < 0.05
    clear = np.abs(ref - 0.5) > 0.05  # decisions away from the threshold (0.5) must not move
    assert ((got >= 0.5) == (ref >= 0.5))[clear].all()
    model = onnx.load(str(onnx_model_path(artifact, "onnx-int8")))
    shapes = {i.name: numpy_helper.to_array(i).shape for i in model.graph.initializer}
    config = artifact.model.config
    float_ffn = [n for n in model.graph.node if n.op_type == "MatMul"
                 and shapes.get(n.input[1]) == (config.intermediate_size, config.hidden_size)]
    assert len(float_ffn) == config.num_hidden_layers
    ops = {n.op_type for n in model.graph.node}
    assert {"QAttention", "MatMulInteger", "DynamicQuantizeLinear"} <= ops


def test_cache_is_reused_and_written_atomically(artifact, needs_onnx, tmp_path, monkeypatch) -> None:
    path = onnx_model_path(artifact, "onnx-int8")
    files = _cache_files(tmp_path)
    assert files == sorted([path.name, onnx_model_path(artifact, "onnx-opt").name])  # no temp files
    assert all(name.startswith(runtime.weights_key(artifact)) for name in files)
    stamp = path.stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt a cached model")

    monkeypatch.setattr(runtime, "_build_optimised", fail)
    monkeypatch.setattr(runtime, "_build_int8", fail)
    artifact.runners.clear()
    get_runner(artifact, "onnx-int8")
    get_runner(artifact, "onnx-opt")
    assert path.stat().st_mtime_ns == stamp and _cache_files(tmp_path) == files


def test_a_failed_check_publishes_nothing(artifact, needs_onnx, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(runtime, "OPT_TOLERANCE", -1.0)  # every model now "disagrees"
    with pytest.raises(DataError, match=r"does not reproduce the PyTorch model.*--precision fp32"):
        get_runner(artifact, "onnx-opt")
    assert _cache_files(tmp_path) == []  # neither the model nor a temporary file is left


def test_an_optimiser_failure_is_explained(artifact, needs_onnx, tmp_path, monkeypatch) -> None:
    from onnxruntime.transformers import optimizer

    def broken(*args, **kwargs):
        raise KeyError("no such pattern")

    monkeypatch.setattr(optimizer, "optimize_model", broken)
    with pytest.raises(DataError, match=r"could not build the optimised ONNX model of 'bert' \(KeyError"):
        get_runner(artifact, "onnx-opt")
    assert _cache_files(tmp_path) == []


def test_auto_picks_onnx_opt_without_bf16(monkeypatch, needs_onnx) -> None:
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: False)
    assert resolve_precision("auto") == AUTO_ONNX == "onnx-opt"
    assert precision_note("auto").startswith("onnx-opt (auto:")
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: True)
    assert resolve_precision("auto") == "bf16"


def test_auto_falls_back_to_fp32_without_onnxruntime(artifact, monkeypatch) -> None:
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: False)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    assert resolve_precision("auto") == "fp32"
    assert "onnxruntime/onnx are not installed" in precision_note("auto")
    assert predict_proba(artifact, TEXTS[:3]).shape == (3, 3)  # auto runs, on PyTorch
    assert list(artifact.runners) == [("fp32", id(artifact.model))]
    with pytest.raises(RuntimeUnavailable, match=r"'onnx-opt' needs ONNX Runtime.*framescope\[onnx\]"):
        get_runner(artifact, "onnx-opt")


def test_unknown_precision_is_explained() -> None:
    with pytest.raises(ValueError, match=r"The 'precision' parameter must be one of auto, fp32.*onnx-int8"):
        resolve_precision("fp16")
