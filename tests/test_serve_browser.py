"""``framescope serve`` as a real process: the web page in headless Chromium (Playwright driving
the system browser; nothing is downloaded), and a clean drain on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TOY_LABELS, missing

#: Script errors and CSP violations each page reported, by page.
PROBLEMS: dict[int, list[str]] = {}
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``framescope serve`` in a subprocess on a free port, its output in a log file."""

    def __init__(self, model: Path, log: Path, *flags: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "framescope.cli", "serve", "--model", str(model),
                 "--port", str(self.port), "--precision", "fp32", "--threads", "1", *flags],
                stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"framescope serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.proc.kill()
        pytest.fail(f"framescope serve did not get ready in 120 s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


@pytest.fixture(scope="module")
def eager_model(tiny_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with every threshold at 0: every frame is on, so evidence is computed."""
    out = tmp_path_factory.mktemp("eager") / "eager"
    shutil.copytree(tiny_artifact, out)
    meta = json.loads((out / "framescope.json").read_text())
    meta["thresholds"] = dict.fromkeys(TOY_LABELS, 0.0)
    meta["name"] = "eager"
    (out / "framescope.json").write_text(json.dumps(meta))
    return out


#: The micro-batcher's wait: long enough that a request is surely in flight when the SIGTERM
#: test signals (it waits in the queue), short enough for the page tests.
MAX_WAIT_MS = 1000


@pytest.fixture(scope="module")
def live(eager_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module (starting one costs ~10 s here); the SIGTERM test, last in the
    file, stops it."""
    server = Server(eager_model, tmp_path_factory.mktemp("serve") / "server.log",
                    "--max-wait-ms", str(MAX_WAIT_MS), "--drain-seconds", "1")
    yield server
    server.stop()


@pytest.fixture()
def page(live: Server, chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            pg = browser.new_page()
            problems: list[str] = []
            pg.on("pageerror", lambda e: problems.append(f"error: {e}"))
            pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            pg.goto(f"{live.base}/")
            PROBLEMS[id(pg)] = problems
            yield pg
        finally:
            browser.close()


def submit(page: Any, text: str) -> Any:
    page.fill("#text", text)
    page.click("#submit")
    page.wait_for_selector("section.passage", timeout=60_000)
    page.wait_for_function("!document.getElementById('submit').disabled", timeout=60_000)
    return page.locator("section.passage")


def test_page_scores_pasted_text_with_evidence(page: Any) -> None:
    assert "eager" in page.locator("p.meta").first.inner_text()
    assert page.locator("#frames dt").count() == len(TOY_LABELS)
    passages = submit(page, "The boats harbour sailing story.\n\nThe guitars concert music night.")
    assert passages.count() == 2
    first = passages.first
    assert "boats harbour" in first.locator("p.text").inner_text()
    rows = first.locator("table.scores tr")
    assert rows.count() == 1 + len(TOY_LABELS)
    assert rows.nth(1).locator("td.num").first.inner_text().startswith("0.")  # a score in [0, 1]
    assert page.locator("tr.on").count() == 2 * len(TOY_LABELS)  # thresholds 0: every frame on
    assert page.locator("section.passage mark.ev").count() >= 1  # evidence highlighted
    assert page.locator(".article .labels span").count() == len(TOY_LABELS)
    assert "scored 2 passages" in page.locator("#status").inner_text()
    assert PROBLEMS[id(page)] == []  # no script error, no CSP violation


def test_hostile_text_is_shown_as_text(page: Any) -> None:
    passages = submit(page, f"Alarm {HOSTILE} in the text")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    text = passages.first.locator("p.text").inner_text()
    assert HOSTILE in text
    assert page.locator("#results img").count() == 0 and page.locator("#results script").count() == 0
    assert PROBLEMS[id(page)] == []


def test_page_shows_input_errors(page: Any) -> None:
    # over --max-chars 50,000 (a script sets the value: the box's maxlength stops typing only)
    page.evaluate("document.getElementById('text').value = 'y'.repeat(60000)")
    page.click("#submit")
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "texts[0]" in page.locator("#status").inner_text()


def test_sigterm_answers_in_flight_requests_then_exits_cleanly(live: Server) -> None:
    server = live
    answers: dict[str, Any] = {}

    def call() -> None:
        answers["r"] = httpx.post(f"{server.base}/v1/score", json={"texts": ["in flight"]}, timeout=60)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(MAX_WAIT_MS / 2500)  # the request waits in the micro-batcher
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)  # inside the 1 s drain window: still listening, refusing new work
    late = httpx.post(f"{server.base}/v1/score", json={"texts": ["late"]}, timeout=10)
    ready = httpx.get(f"{server.base}/readyz", timeout=10).status_code
    worker.join(timeout=60)
    code = server.stop()
    log = server.output()
    assert answers["r"].status_code == 200, log
    assert answers["r"].json()["passages"][0]["text"] == "in flight"
    assert late.status_code == 503 and late.json()["error"] == "draining" and ready == 503
    # uvicorn drains, then re-raises the signal it caught: the exit is the signal's (143 in a shell)
    assert code in (0, -signal.SIGTERM), log
    assert "draining" in log and "Application shutdown complete" in log and "Traceback" not in log
