"""Scoring and reading as a careless or hostile user drives them (issue 16): one writer per
output, resume that checks everything, bounded memory, one-line errors, no silent data loss,
safe output files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import toy_records

from framescope.cli import main
from framescope.data import DataError, ReadOptions, load_passages, read_passages
from framescope.scoring import OutputLock, ScoreConfig, score


def _feed(tmp_path: Path, n: int = 40, name: str = "in.jsonl", prefix: str = "t") -> Path:
    path = tmp_path / name
    rows = [dict(r, id=f"{prefix}{i}", article_id=f"{prefix}a{i}") for i, r in enumerate(toy_records(n))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "framescope.cli", *args], capture_output=True,
                          text=True, timeout=300)


# ----------------------------------------------------------------------------- 1. one writer


def test_a_second_writer_is_refused(tiny_artifact: Path, tmp_path: Path) -> None:
    src, out = _feed(tmp_path), tmp_path / "out" / "same.jsonl"
    out.parent.mkdir()
    with OutputLock(out):  # this test process is the first writer
        proc = _cli("score", "--model", str(tiny_artifact), str(src), "--out", str(out), "--overwrite", "-q")
    assert proc.returncode == 2
    assert f"another framescope score run (pid {os.getpid()}) is writing" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (out.parent / ".same.jsonl.framescope-run").exists()


def test_two_runs_started_together_never_mix(tiny_artifact: Path, tmp_path: Path) -> None:
    a, b = _feed(tmp_path, 300, "a.jsonl", "A"), _feed(tmp_path, 300, "b.jsonl", "B")
    out = tmp_path / "same.jsonl"
    procs = [subprocess.Popen([sys.executable, "-m", "framescope.cli", "score", "--model", str(tiny_artifact),
                               str(src), "--out", str(out), "--overwrite", "-q", "--chunk-size", "16"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for src in (a, b)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line parses
    assert len(rows) == 300 and len({r["id"][0] for r in rows}) == 1  # all from one input
    assert not (tmp_path / ".same.jsonl.framescope-lock").exists()


def test_a_second_run_cannot_take_over_a_running_ones_output(tiny_artifact: Path, tmp_path: Path) -> None:
    """Two real ``framescope score`` processes, the second started while the first is mid-run
    (held with SIGSTOP so the overlap is certain): the second is refused, the first's work
    survives and its output holds exactly its own rows."""
    a, b = _feed(tmp_path, 1000, "a.jsonl", "A"), _feed(tmp_path, 300, "b.jsonl", "B")
    out = tmp_path / "same.jsonl"
    work = tmp_path / ".same.jsonl.framescope-run"
    first = subprocess.Popen([sys.executable, "-m", "framescope.cli", "score", "--model", str(tiny_artifact),
                              str(a), "--out", str(out), "-q", "--chunk-size", "8"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (work / "state.json").exists():  # the first run has started writing
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.02)
        first.send_signal(signal.SIGSTOP)
        second = _cli("score", "--model", str(tiny_artifact), str(b), "--out", str(out), "--overwrite", "-q")
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2, second.stderr
    assert f"another framescope score run (pid {first.pid}) is writing" in second.stderr
    assert first.wait(timeout=300) == 0, first.stderr.read()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1000 and {r["id"][0] for r in rows} == {"A"}


def test_the_lock_of_a_killed_run_is_taken_over(tiny_artifact: Path, tmp_path: Path) -> None:
    src, out = _feed(tmp_path), tmp_path / "k.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from framescope.scoring import OutputLock\n"
        f"lock = OutputLock(Path({str(out)!r})).__enter__(); print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    assert _cli("score", "--model", str(tiny_artifact), str(src), "--out", str(out), "-q").returncode == 2
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / ".k.jsonl.framescope-lock").exists()  # left behind by the killed run
    summary = score(tiny_artifact, [src], out, ScoreConfig(progress=False))
    assert summary.passages == 40


# ----------------------------------------------------------------------------- 2. resume identity


def test_resume_checks_a_finished_output_against_the_command(tiny_artifact: Path, tmp_path: Path) -> None:
    src, out = _feed(tmp_path), tmp_path / "r.jsonl"
    score(tiny_artifact, [src], out, ScoreConfig(progress=False))
    again = score(tiny_artifact, [src], out, ScoreConfig(progress=False, resume=True))
    assert again.already_complete
    edited = tmp_path / "edited"
    shutil.copytree(tiny_artifact, edited)
    meta = json.loads((edited / "framescope.json").read_text())
    meta["thresholds"] = dict.fromkeys(meta["thresholds"], 0.9)  # same weights, other thresholds
    (edited / "framescope.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"finished output was made with different .*thresholds"):
        score(edited, [src], out, ScoreConfig(progress=False, resume=True))
    src.write_text(src.read_text() + json.dumps({"id": "new", "text": "boats"}) + "\n")
    with pytest.raises(DataError, match=r"different settings, model or inputs \(inputs"):
        score(tiny_artifact, [src], out, ScoreConfig(progress=False, resume=True))
    (tmp_path / ".r.jsonl.framescope-run.json").unlink()
    with pytest.raises(DataError, match="records no run identity"):
        score(tiny_artifact, [src], out, ScoreConfig(progress=False, resume=True))


def test_resume_refuses_an_interrupted_run_with_other_thresholds(tiny_artifact, tmp_path, monkeypatch) -> None:
    import framescope.scoring as scoring

    src, out = _feed(tmp_path, 60), tmp_path / "i.jsonl"
    real, calls = scoring.atomic_write_text, {"n": 0}

    def dying(path, text):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash")
        real(path, text)

    monkeypatch.setattr(scoring, "atomic_write_text", dying)
    with pytest.raises(RuntimeError):
        score(tiny_artifact, [src], out, ScoreConfig(progress=False, chunk_size=8))
    monkeypatch.undo()
    edited = tmp_path / "edited"
    shutil.copytree(tiny_artifact, edited)
    meta = json.loads((edited / "framescope.json").read_text())
    meta["thresholds"] = dict.fromkeys(meta["thresholds"], 0.1)
    (edited / "framescope.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="interrupted run was made with different"):
        score(edited, [src], out, ScoreConfig(progress=False, chunk_size=8, resume=True))


# ----------------------------------------------------------------------------- 3. bounded memory


def test_a_huge_paragraph_is_never_tokenized_whole() -> None:
    from framescope.data import Passage, cut_article

    seen: list[int] = []

    def count(text: str) -> int:
        seen.append(len(text))
        return len(text.split())

    text = "word " * 400_000  # 2 MB, one paragraph, no sentence end
    pieces = cut_article(Passage(id="x", text=text), max_tokens=100, count_tokens=count)
    assert max(seen) <= 100 * 32 + 10  # bounded prefixes and blocks only
    assert all(len(p.text.split()) <= 100 for p in pieces)
    assert sum(len(p.text.split()) for p in pieces) == 400_000  # every word in exactly one passage
    assert all(text[p.start:p.end] == p.text for p in pieces[:50])


def test_records_over_the_size_limit_are_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "x" * 5000}) + "\n" + json.dumps({"id": "2", "text": "ok"}) + "\n")
    with pytest.raises(DataError, match=r"big.jsonl:1: field 'text': 5,000 characters, over the limit of 1,000"):
        load_passages([path], ReadOptions(max_record_chars=1000))
    got = load_passages([path], ReadOptions(max_record_chars=1000), on_error="skip")
    assert [p.id for p in got.passages] == ["2"] and got.stats.read == got.stats.accepted + got.stats.rejected
    feed = tmp_path / "f.xml"
    feed.write_text("<rss><channel><item><title>t</title><description>" + "y" * 3000
                    + "</description></item></channel></rss>")
    with pytest.raises(DataError, match="feed is over 1,000 bytes"):
        load_passages([feed], ReadOptions(max_record_chars=1000))


# ----------------------------------------------------------------------------- 4. messages, not tracebacks


def test_nested_json_is_a_bad_record_not_a_crash(tmp_path: Path, capsys) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"id": "1", "text": ' + "[" * 5000 + "]" * 5000 + "}\n" + json.dumps({"id": "2", "text": "ok"}) + "\n")
    assert main(["data", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "deep.jsonl:1: field '<record>': JSON nested too deeply" in out
    assert "records read: 2 = accepted 1 + rejected 1" in out


@pytest.mark.parametrize("damage, message", [
    ("truncate", "model.safetensors is damaged or truncated"),
    ("meta", "framescope.json:1: not valid JSON"),
    ("model_type", "names a model type this transformers version does not know"),
])
def test_damaged_models_get_one_line(tiny_artifact: Path, tmp_path: Path, damage: str, message: str) -> None:
    model = tmp_path / "m"
    shutil.copytree(tiny_artifact, model)
    if damage == "truncate":
        data = (model / "model.safetensors").read_bytes()
        (model / "model.safetensors").write_bytes(data[: len(data) // 3])
    elif damage == "meta":
        (model / "framescope.json").write_text('{"taxonomy": ')
    else:
        config = json.loads((model / "config.json").read_text())
        config["model_type"] = "nosuchmodel"
        (model / "config.json").write_text(json.dumps(config))
    proc = _cli("score", "--model", str(model), str(_feed(tmp_path)), "--out", str(tmp_path / "o.jsonl"), "-q")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_an_unwritable_output_folder_fails_before_the_model_loads(tiny_artifact: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    import framescope.scoring as scoring

    blocker = tmp_path / "afile"
    blocker.write_text("x")
    monkeypatch.setattr(scoring, "load_artifact", lambda *_a, **_k: pytest.fail("model loaded"))
    with pytest.raises(DataError, match="is a file, not a folder"):
        score(str(tiny_artifact), [_feed(tmp_path)], blocker / "o.jsonl", ScoreConfig(progress=False))
    if os.geteuid() != 0:  # root writes through permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        with pytest.raises(DataError, match="cannot write the output in"):
            score(str(tiny_artifact), [_feed(tmp_path)], ro / "o.jsonl", ScoreConfig(progress=False))


# ----------------------------------------------------------------------------- 5. no silent loss


def test_duplicate_json_keys_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "1", "text": "first", "text": "second"}\n')
    with pytest.raises(DataError, match=r"dup.jsonl:1: field 'text': duplicate key 'text'"):
        load_passages([path])


def test_an_unterminated_csv_quote_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,text\n1,"hello\n2,world\n3,again\n4,more\n')
    with pytest.raises(DataError, match=r"q.csv:2: field '<record>': one record spans lines 2-5 .* unterminated quote"):
        load_passages([path])
    ok = tmp_path / "multi.csv"  # a real multi-line cell is fine
    ok.write_text('id,text\n1,"para one\n\npara two"\n2,next\n')
    assert [p.id for p in load_passages([ok]).passages] == ["1", "2"]


def test_a_stray_nul_rejects_its_line_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nul.jsonl"
    path.write_bytes(b'{"id": "1", "text": "ok"}\n{"id": "2", "text": "bad \x00 byte"}\n{"id": "3", "text": "fine"}\n')
    got = load_passages([path], on_error="skip")
    assert [p.id for p in got.passages] == ["1", "3"] and got.stats.rejected == 1
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(DataError, match="looks binary"):
        load_passages([binary])


def test_header_only_csv_is_not_valid(tmp_path: Path, capsys) -> None:
    path = tmp_path / "h.csv"
    path.write_text("id,text\n")
    assert main(["data", "validate", str(path)]) == 1
    assert "holds no records" in capsys.readouterr().out


def test_semicolon_csv_gets_the_right_hint_and_reads_with_delimiter(tmp_path: Path, capsys) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("id;text;labels\n1;hello there;alpha\n")
    assert main(["data", "validate", str(path)]) == 1
    assert "pass --delimiter ';'" in capsys.readouterr().out
    assert main(["data", "validate", str(path), "--delimiter", ";"]) == 0
    assert [p.labels for p in read_passages([path], ReadOptions(delimiter=";"))] == [["alpha"]]


# ----------------------------------------------------------------------------- 6. output files


def test_report_csv_cells_cannot_run_formulas(tmp_path: Path) -> None:
    from framescope.reports.analyst import write_report
    from framescope.reports.summary import ReportConfig, build_summary

    rows = [{"id": f"p{i}", "article_id": f"a{i}", "text": "t", "scores": {"x": 0.9}, "labels": ["x"],
             "outlet": '=HYPERLINK("http://evil","click")' if i % 2 else "@SUM(1)", "published": "2024-01-0" + str(i + 1),
             "model": {"name": "m", "fingerprint": "f"}} for i in range(4)]
    src = tmp_path / "s.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_report(build_summary([src], ReportConfig(progress=False, min_articles=1)), tmp_path / "rep")
    for table in (tmp_path / "rep").glob("*.csv"):
        for line in table.read_text().splitlines()[1:]:
            for cell in line.split(","):
                assert not cell.strip('"').startswith(("=", "@", "+")), (table.name, line)
    assert "'=HYPERLINK" in (tmp_path / "rep" / "prevalence_by_outlet.csv").read_text()


def test_saved_weights_are_readable_like_the_rest(tiny_artifact: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tiny_artifact.iterdir() if p.is_file()}
    assert modes["model.safetensors"] == modes["framescope.json"] == 0o666 & ~mask, modes


def test_lock_release_is_quick(tiny_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "fast.jsonl"
    t0 = time.perf_counter()
    with OutputLock(out):
        pass
    with OutputLock(out):
        pass
    assert time.perf_counter() - t0 < 1 and not (tmp_path / ".fast.jsonl.framescope-lock").exists()
