"""Exactly-once output: crashes and kill -9 at random points, then --resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import toy_records

from framescope.data import DataError
from framescope.scoring import ScoreConfig, score


def _inputs(tmp_path: Path, n: int = 120) -> list[Path]:
    """Two inputs with bad records interleaved, and articles long enough to be split."""
    rows = toy_records(n)
    lines = []
    for i, r in enumerate(rows):
        if i % 10 == 3:
            r = dict(r, text=(r["text"] + " ") * 12 + "\n\n" + "Boats and guitars. " * 20)
        lines.append(json.dumps(r))
        if i % 17 == 5:
            lines.append("not json at all")
        if i % 23 == 7:
            lines.append(json.dumps({"id": f"empty{i}", "text": "  "}))
    first = tmp_path / "a.jsonl"
    first.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    second = tmp_path / "b.jsonl"
    second.write_text("\n".join(lines[len(lines) // 2:]) + "\n", encoding="utf-8")
    return [first, second]


def _cfg(**kw) -> ScoreConfig:
    base = {"level": "both", "on_error": "skip", "chunk_size": 16, "batch_size": 8, "progress": False}
    return ScoreConfig(**{**base, **kw})


def _outputs(out: Path) -> dict[str, str]:
    names = [out, out.with_name(out.stem + ".articles" + out.suffix), out.with_name("s.errors.jsonl")]
    return {p.name.replace(out.stem, "OUT", 1): p.read_text(encoding="utf-8") for p in names}


def _assert_same(got: dict[str, str], ref: dict[str, str]) -> None:
    assert got.keys() == ref.keys()
    for name in ref:
        g = [json.loads(x) for x in got[name].splitlines()]
        r = [json.loads(x) for x in ref[name].splitlines()]
        assert len(g) == len(r), name
        if name.endswith("errors.jsonl"):
            assert g == r
            continue
        key = "id" if "articles" not in name else "article_id"
        assert [x[key] for x in g] == [x[key] for x in r], name  # every row once, same order
        for a, b in zip(g, r):
            for lab, v in b["scores"].items():
                assert abs(a["scores"][lab] - v) <= 1e-6
            assert {k: v for k, v in a.items() if k != "scores"} == \
                   {k: v for k, v in b.items() if k != "scores"}


@pytest.fixture(scope="module")
def reference(tiny_artifact, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    inputs = _inputs(tmp)
    out = tmp / "s.jsonl"
    summary = score(tiny_artifact, inputs, out, _cfg())
    assert summary.stats.rejected > 3 and summary.passages > summary.stats.accepted
    return inputs, _outputs(out)


def test_crash_before_a_commit_then_resume(tiny_artifact, reference, tmp_path, monkeypatch):
    import framescope.scoring as scoring

    inputs, ref = reference
    out = tmp_path / "s.jsonl"
    real = scoring.atomic_write_text
    calls = {"n": 0}

    def dying(path, text):
        calls["n"] += 1
        if calls["n"] == 5:  # the initial state, three commits, then death before the 4th
            raise RuntimeError("simulated crash")
        real(path, text)

    monkeypatch.setattr(scoring, "atomic_write_text", dying)
    with pytest.raises(RuntimeError, match="simulated crash"):
        score(tiny_artifact, inputs, out, _cfg())
    monkeypatch.setattr(scoring, "atomic_write_text", real)
    work = tmp_path / ".s.jsonl.framescope-run"
    state = json.loads((work / "state.json").read_text())
    assert state["passages"] > 0 and not state["scored"]
    # the uncommitted 4th chunk is in the part file (and a torn line after it): dropped on resume
    part = work / "passages.jsonl"
    assert part.stat().st_size > state["bytes"]["passages"]
    with open(part, "ab") as fh:
        fh.write(b'{"id": "torn')
    assert not out.exists()
    with pytest.raises(DataError, match=r"interrupted run.*--resume"):
        score(tiny_artifact, inputs, out, _cfg())
    summary = score(tiny_artifact, inputs, out, _cfg(resume=True))
    assert summary.resumed and 0 < summary.passages_this_run < summary.passages
    _assert_same(_outputs(out), ref)
    assert not work.exists()
    again = score(tiny_artifact, inputs, out, _cfg(resume=True))
    assert again.already_complete and "nothing to resume" in again.describe()


def test_crash_while_finalising_then_resume(tiny_artifact, reference, tmp_path, monkeypatch):
    import framescope.scoring as scoring

    inputs, ref = reference
    out = tmp_path / "s.jsonl"

    def broken(*args, **kwargs):
        raise OSError("disk went away")

    monkeypatch.setattr(scoring.ArticleCombiner, "rows", broken)
    with pytest.raises(OSError):
        score(tiny_artifact, inputs, out, _cfg())
    monkeypatch.undo()
    assert out.exists()  # passages were published, articles were not
    summary = score(tiny_artifact, inputs, out, _cfg(resume=True))
    assert summary.passages_this_run == 0
    _assert_same(_outputs(out), ref)


def test_resume_refuses_other_settings(tiny_artifact, reference, tmp_path, monkeypatch):
    import framescope.scoring as scoring

    inputs, _ = reference
    out = tmp_path / "s.jsonl"
    real = scoring.atomic_write_text
    calls = {"n": 0}

    def dying(path, text):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash")
        real(path, text)

    monkeypatch.setattr(scoring, "atomic_write_text", dying)
    with pytest.raises(RuntimeError):
        score(tiny_artifact, inputs, out, _cfg())
    monkeypatch.undo()
    with pytest.raises(DataError, match=r"cannot --resume.*chunk_size: was 16, now 32"):
        score(tiny_artifact, inputs, out, _cfg(resume=True, chunk_size=32))
    inputs[0].touch()
    os.utime(inputs[0], ns=(0, 12345))
    with pytest.raises(DataError, match=r"cannot --resume.*inputs"):
        score(tiny_artifact, inputs, out, _cfg(resume=True))
    summary = score(tiny_artifact, inputs, out, _cfg(overwrite=True))
    assert not summary.resumed


def _run_cli(model: Path, inputs: list[Path], out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "framescope.cli", "score", "--model", str(model),
           *map(str, inputs), "--out", str(out), "--level", "both", "--on-error", "skip",
           "--chunk-size", "8", "--batch-size", "4", "-q", *extra]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _committed(work: Path) -> int:
    try:
        return int(json.loads((work / "state.json").read_text())["passages"])
    except (OSError, ValueError, KeyError):
        return -1


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume(tiny_artifact, reference, tmp_path):
    """A real `framescope score` process is killed with SIGKILL at random moments, several times,
    each time after it made some progress; `--resume` then finishes, and the output equals an
    uninterrupted run's."""
    inputs, ref = reference
    out = tmp_path / "s.jsonl"
    work = tmp_path / ".s.jsonl.framescope-run"
    rng = random.Random(int(os.environ.get("FRAMESCOPE_TEST_SEED", "6")))
    kills, last = 0, -1
    for attempt in range(8):
        proc = _run_cli(tiny_artifact, inputs, out, *(["--resume"] if attempt else []))
        deadline = time.monotonic() + 120
        # wait until this process commits something new, then kill it a random moment later:
        # within a few milliseconds, so a fast machine cannot finish the whole run meanwhile
        # (a chunk of 8 records through the tiny model takes about that long)
        while proc.poll() is None and _committed(work) <= last and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.02))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            last = _committed(work)
            if kills >= 3:
                break
        else:
            _, err = proc.communicate()
            assert proc.returncode == 0, err.decode()
            break
    assert kills >= 3, "the run finished before it could be killed three times"
    proc = _run_cli(tiny_artifact, inputs, out, "--resume")
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()
    assert not work.exists()
    _assert_same(_outputs(out), ref)


def test_a_long_record_spans_chunks_and_resumes_from_any_commit(tiny_artifact, tmp_path, monkeypatch):
    """A record cut into many passages is committed across several chunks (memory stays bounded
    by the chunk size); a crash after any commit, even mid-record, resumes to the same output."""
    import framescope.scoring as scoring

    long_text = "\n\n".join(f"Paragraph {i}: apples and boats and guitars, story {i}." for i in range(40))
    rows = [json.dumps({"id": "short1", "text": "apples orchard"}), "not json",
            json.dumps({"id": "long", "text": long_text}), json.dumps({"id": "short2", "text": "boats"})]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    cfg = {"chunk_size": 8, "level": "both", "on_error": "skip", "batch_size": 4, "progress": False}
    ref_out = tmp_path / "ref" / "s.jsonl"
    score(tiny_artifact, [src], ref_out, ScoreConfig(**cfg))
    ref = _outputs(ref_out)
    assert len(ref["OUT.jsonl"].splitlines()) == 42
    real = scoring.atomic_write_text
    partials = []
    for crash_at in range(2, 8):
        out = tmp_path / f"run{crash_at}" / "s.jsonl"
        calls = {"n": 0}

        def dying(path, text, crash_at=crash_at, calls=calls):
            calls["n"] += 1
            if calls["n"] == crash_at:
                raise RuntimeError("simulated crash")
            real(path, text)

        monkeypatch.setattr(scoring, "atomic_write_text", dying)
        with pytest.raises(RuntimeError):
            score(tiny_artifact, [src], out, ScoreConfig(**cfg))
        monkeypatch.setattr(scoring, "atomic_write_text", real)
        state = json.loads((out.parent / ".s.jsonl.framescope-run" / "state.json").read_text())
        partials.append(state.get("partial", 0))
        score(tiny_artifact, [src], out, ScoreConfig(**cfg, resume=True))
        _assert_same(_outputs(out), ref)
    assert any(p > 0 for p in partials)  # some crashes came in the middle of the long record
