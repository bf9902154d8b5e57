"""--engine ray on a local 2-CPU Ray instance: the same rows and scores as the local engine."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import toy_records

from framescope.scoring import ScoreConfig, score

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_ray_engine_matches_local(tiny_artifact, tmp_path, local_ray):
    import copy

    from framescope.modeling import load_artifact

    src = tmp_path / "in.jsonl"
    rows = toy_records(40)
    rows[5]["text"] = (rows[5]["text"] + " ") * 10 + "\n\n" + "Boats in the harbour. " * 20
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    art = load_artifact(tiny_artifact)
    art.thresholds = {"alpha": 0.0, "beta": 1.0, "gamma": 1.0}  # alpha everywhere: evidence for all
    # the ray workers load the model from its folder: save the changed thresholds there too
    from framescope.modeling import save_artifact

    model_dir = save_artifact(copy.copy(art), tmp_path / "model")
    cfg = {"level": "both", "evidence": True, "evidence_top_k": 2, "chunk_size": 12,
           "progress": False}
    local = score(model_dir, [src], tmp_path / "local.jsonl", ScoreConfig(**cfg))
    remote = score(model_dir, [src], tmp_path / "ray.jsonl",
                   ScoreConfig(engine="ray", workers=2, **cfg))
    assert remote.passages == local.passages > 40
    assert ray.is_initialized()  # an existing Ray connection is used, not shut down
    for name in ("", ".articles"):
        a, b = _rows(tmp_path / f"local{name}.jsonl"), _rows(tmp_path / f"ray{name}.jsonl")
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert x.keys() == y.keys()
            for lab, v in x["scores"].items():
                assert abs(y["scores"][lab] - v) <= 1e-6
            same = {k for k in x if k not in ("scores", "evidence")}
            assert {k: x[k] for k in same} == {k: y[k] for k in same}
            for lab, spans in x.get("evidence", {}).items():
                _same_spans(spans, y["evidence"][lab])


def _same_spans(a: list[dict], b: list[dict]) -> None:
    """Same spans, unless two weights are so close that thread-count noise may reorder them."""
    if [(s["start"], s["end"]) for s in a] == [(s["start"], s["end"]) for s in b]:
        return
    weights = sorted(s["weight"] for s in a + b)
    assert min(abs(u - v) for u, v in itertools.pairwise(weights)) < 1e-5, (a, b)
