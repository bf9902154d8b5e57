"""The live Label Studio round-trip (bench/label_roundtrip.py) against a real local server.

Opt-in: runs only with FRAMESCOPE_LIVE_LABEL_STUDIO=1 and a Python that has label-studio and
label-studio-sdk (LABEL_STUDIO_PYTHON, default /work/lsvenv/bin/python). Kept out of the
framescope venv on purpose; see tests/fixtures/label_studio/README.md. CI tests the importer
against the recorded exports instead.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LS_PYTHON = Path(os.environ.get("LABEL_STUDIO_PYTHON", "/work/lsvenv/bin/python"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("FRAMESCOPE_LIVE_LABEL_STUDIO") != "1",
                       reason="live Label Studio test: set FRAMESCOPE_LIVE_LABEL_STUDIO=1"),
    pytest.mark.skipif(not (LS_PYTHON.exists() and LS_PYTHON.with_name("label-studio").exists()),
                       reason=f"no label-studio beside {LS_PYTHON} (set LABEL_STUDIO_PYTHON)"),
]


def test_label_studio_round_trip(tmp_path):
    out = tmp_path / "result.json"
    # its own process group, so that a timeout (or pytest-timeout) also stops the framescope
    # commands the script runs, not only the script (the Label Studio server has a session of its
    # own and is stopped by the script's context manager)
    proc = subprocess.Popen(
        [str(LS_PYTHON), str(ROOT / "bench" / "label_roundtrip.py"), "--n", "8",
         "--workdir", str(tmp_path / "work"), "--results", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=1500)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stdout[-4000:] + stderr[-4000:]
    result = json.loads(out.read_text())
    counts = result["counts"]
    assert counts["selected"] == 8
    assert counts["annotated_tasks"] + counts["unannotated_tasks"] == counts["selected"]
    assert counts["counts_add_up"] is True
    assert counts["read"] == counts["accepted"] + counts["rejected"]
    assert counts["labels_match_annotations"] is True
    assert counts["prediction_leaks"] == 0
    assert (tmp_path / "work" / "model-1" / "framescope.json").exists()
