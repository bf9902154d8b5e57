"""``framescope serve``: every endpoint, limit and error status, the API key, the micro-batcher
(scores equal to unbatched ones, drain on close), and identity with ``framescope score``."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import TOY_LABELS, toy_records
from fastapi.testclient import TestClient

from framescope.serving.app import create_app
from framescope.serving.batcher import BatcherClosed, MicroBatcher
from framescope.serving.config import ServeConfig

LONG_ARTICLE = {
    "id": "long", "title": "Harbour day", "outlet": "Coast News", "published": "2024-03-01",
    "url": "https://example.org/long",
    "text": "\n\n".join(f"Paragraph {i}: the boats harbour sailing story and the apples orchard "
                       f"harvest, part {i}." for i in range(4)),
}


@pytest.fixture(scope="module")
def artifact(tiny_artifact: Path) -> Any:
    from framescope.modeling import load_artifact

    return load_artifact(tiny_artifact)


def config(tiny_artifact: Path, **kwargs: Any) -> ServeConfig:
    return ServeConfig(model=str(tiny_artifact), precision="fp32", **kwargs)


@pytest.fixture(scope="module")
def client(artifact: Any, tiny_artifact: Path) -> Any:
    with TestClient(create_app(config(tiny_artifact, max_texts=4, max_chars=2_000,
                                      max_body_bytes=20_000), artifact)) as c:
        yield c


def post(client: TestClient, body: Any, **kwargs: Any) -> Any:
    return client.post("/v1/score", json=body, **kwargs)


# --------------------------------------------------------------------------- endpoints


def test_health_ready_and_model(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    info = client.get("/v1/model").json()
    assert info["name"] == "tiny" and info["fingerprint"].startswith("sha256:")
    assert [lab["id"] for lab in info["taxonomy"]["labels"]] == TOY_LABELS
    assert info["thresholds"] == dict.fromkeys(TOY_LABELS, 0.5)
    assert {"description", "name", "threshold"} <= set(info["taxonomy"]["labels"][0])
    assert info["problem_type"] == "multi_label" and info["combine"] == "max"
    assert info["precision"] == "fp32" and info["metrics"] is None


def test_model_reports_recorded_metrics(artifact: Any, tiny_artifact: Path) -> None:
    from framescope.data import Label, Taxonomy

    labels = [Label(id="alpha", name="Alpha", description="<script>alert(1)</script> defined"),
              *artifact.taxonomy.labels[1:]]
    meta = {**artifact.meta, "metrics": {"dev": {"macro_f1": 0.5, "per_label": {"alpha": {"roc_auc": float("nan")}}}}}
    other = dataclasses.replace(artifact, taxonomy=Taxonomy(labels, id="toy"), meta=meta, runners={})
    with TestClient(create_app(config(tiny_artifact), other)) as c:
        info = c.get("/v1/model").json()
        assert info["metrics"]["dev"]["macro_f1"] == 0.5
        assert info["metrics"]["dev"]["per_label"]["alpha"]["roc_auc"] is None  # NaN is not JSON
        page = c.get("/").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_score_rows_have_the_scored_schema(client: TestClient) -> None:
    from framescope.scored import article_columns, parse_row, passage_columns

    r = post(client, {"texts": ["The boats harbour sailing story.", LONG_ARTICLE], "level": "both"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"]["name"] == "tiny" and body["level"] == "both"
    assert [p["id"] for p in body["passages"]] == ["0", "long#0", "long#1", "long#2", "long#3"]
    assert all(list(p) == passage_columns(False) for p in body["passages"])
    assert [list(a) for a in body["articles"]] == [article_columns()] * 2
    assert body["articles"][1]["passages"] == 4 and body["articles"][1]["outlet"] == "Coast News"
    for row in body["passages"] + body["articles"]:
        parse_row(row)  # what framescope report reads
    only = post(client, {"texts": ["x y"], "level": "article"}).json()
    assert "passages" not in only and len(only["articles"]) == 1
    assert "articles" not in post(client, {"texts": ["x y"]}).json()


def test_evidence_spans_lie_in_their_passage(client: TestClient) -> None:
    body = post(client, {"texts": [LONG_ARTICLE], "evidence": True}).json()
    for row in body["passages"]:
        assert set(row["evidence"]) == set(row["labels"])
        for spans in row["evidence"].values():
            for s in spans:
                assert row["text"][s["start"]:s["end"]] == s["text"]


@pytest.mark.parametrize("evidence", [False, True])
def test_score_equals_framescope_score(artifact: Any, tiny_artifact: Path, tmp_path: Path,
                                       evidence: bool) -> None:
    from framescope.scoring import ScoreConfig, score

    records = [*toy_records(24), LONG_ARTICLE]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    score(artifact, [src], out, ScoreConfig(level="both", precision="fp32", progress=False, evidence=evidence))
    want_p = [json.loads(line) for line in out.read_text().splitlines()]
    want_a = [json.loads(line) for line in out.with_name("scores.articles.jsonl").read_text().splitlines()]
    with TestClient(create_app(config(tiny_artifact), artifact)) as c:
        got = post(c, {"texts": records, "level": "both", "evidence": evidence}).json()
    assert len(got["passages"]) == len(want_p) == 28 and len(got["articles"]) == len(want_a)
    assert_rows_equal(got["passages"], want_p)  # evidence included, when asked
    assert_rows_equal(got["articles"], want_a)
    assert ("evidence" in got["passages"][0]) == evidence


def assert_rows_equal(got: list[dict[str, Any]], want: list[dict[str, Any]], tol: float = 1e-6) -> None:
    for g, w in zip(got, want, strict=True):
        assert {k: v for k, v in g.items() if k != "scores"} == {k: v for k, v in w.items() if k != "scores"}
        assert list(g["scores"]) == list(w["scores"])
        assert np.allclose(list(g["scores"].values()), list(w["scores"].values()), rtol=0, atol=tol)


# --------------------------------------------------------------------------- micro-batching


def test_concurrent_requests_are_batched_and_equal_unbatched(artifact: Any, tiny_artifact: Path) -> None:
    from framescope.inference import PassageScorer

    texts = [f"Request {i}: the {w} story number {i}." for i, w in
             enumerate(["apples orchard harvest", "boats harbour", "guitars concert music and more words"] * 3)]
    requests = [texts[i:i + 1 + i % 3] for i in range(9)]
    answers: dict[int, Any] = {}
    app = create_app(config(tiny_artifact, max_wait_ms=400, max_batch=64), artifact)
    with TestClient(app) as c:
        def call(i: int) -> None:
            answers[i] = post(c, {"texts": requests[i]})

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        batches = app.state.service.batcher.batches
        metrics = c.get("/metrics").text
    assert batches < len(requests), "concurrent requests were not packed together"
    assert 'framescope_batch_passages_count' in metrics
    unbatched = PassageScorer(artifact, precision="fp32", batch_size=1)
    for i, req in enumerate(requests):
        assert answers[i].status_code == 200
        rows = answers[i].json()["passages"]
        assert [r["text"] for r in rows] == req
        alone = unbatched.score(req)
        got = np.array([[r["scores"][lab] for lab in TOY_LABELS] for r in rows])
        assert np.allclose(got, alone.probs, rtol=0, atol=1e-6)


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


def test_batcher_packs_splits_and_routes() -> None:
    seen: list[tuple[list[int], Any]] = []

    def run(items: list[int], key: Any) -> list[int]:
        seen.append((list(items), key))
        return [x * 10 for x in items]

    async def main() -> list[Any]:
        b = MicroBatcher(run, max_batch=4, max_wait_ms=50)
        b.start()
        jobs = [b.submit([1, 2]), b.submit([3]), b.submit([4, 5, 6, 7, 8, 9], key="ev"), b.submit([10, 11, 12])]
        out = await asyncio.gather(*jobs)
        await b.close()
        return out

    out = run_async(main())
    assert out == [[10, 20], [30], [40, 50, 60, 70, 80, 90], [100, 110, 120]]
    assert all(len(items) <= 4 for items, _ in seen)
    assert all(all(x in (4, 5, 6, 7, 8, 9) for x in items) == (key == "ev") for items, key in seen)
    assert seen[0] == ([1, 2, 3, 10], None)  # jobs of one key packed across requests


def test_batcher_close_finishes_queued_work() -> None:
    def slow(items: list[int], key: Any) -> list[int]:
        time.sleep(0.05)
        return [x + 1 for x in items]

    async def main() -> tuple[list[Any], MicroBatcher]:
        b = MicroBatcher(slow, max_batch=2, max_wait_ms=1000)
        b.start()
        tasks = [asyncio.ensure_future(b.submit([i, i])) for i in range(5)]
        await asyncio.sleep(0.01)  # all queued; the first batch waits up to 1 s for more
        await b.close()  # drains at once instead of waiting
        assert all(t.done() for t in tasks)
        with pytest.raises(BatcherClosed):
            await b.submit([1])
        return [t.result() for t in tasks], b

    results, b = run_async(main())
    assert results == [[i + 1, i + 1] for i in range(5)] and b.batches == 5 and b.waiting == 0


def test_batcher_error_fails_its_batch_only() -> None:
    def flaky(items: list[int], key: Any) -> list[int]:
        if 0 in items:
            raise RuntimeError("boom")
        return items

    async def main() -> tuple[Any, Any]:
        b = MicroBatcher(flaky, max_batch=8, max_wait_ms=0)
        b.start()
        bad = await asyncio.gather(b.submit([0]), return_exceptions=True)
        good = await b.submit([5])
        await b.close()
        return bad[0], good

    bad, good = run_async(main())
    assert isinstance(bad, RuntimeError) and good == [5]


# --------------------------------------------------------------------------- limits and errors


def error_of(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert "Traceback" not in r.text and body["message"]
    return body


def test_malformed_json_is_400(client: TestClient) -> None:
    for raw in (b'{"texts": [', b"\xff\xfe not utf-8", b""):
        body = error_of(client.post("/v1/score", content=raw, headers={"content-type": "application/json"}), 400)
        assert body["error"] == "malformed_json"


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = {"texts": ["word " * 1000] * 3}  # 15 kB of text, 3 items: only the size is wrong
    big["texts"].append("x" * 6000)
    assert error_of(post(client, big), 413)["error"] == "body_too_large"

    def chunks() -> Any:  # no Content-Length: counted while read
        for _ in range(30):
            yield b"x" * 1000

    assert error_of(client.post("/v1/score", content=chunks()), 413)["error"] == "body_too_large"


@pytest.mark.parametrize(("body", "field"), [
    ({"texts": ["a"] * 5}, "texts"),                                         # --max-texts 4
    ({"texts": ["ok", "x" * 2001]}, "texts[1]"),                              # --max-chars 2000
    ({"texts": [{"id": "a", "text": "x" * 2001}]}, "texts[0].text"),
    ({"texts": []}, "texts"),
    ({"texts": "one string"}, "texts"),
    ({"texts": ["ok", 7]}, "texts[1]"),
    ({"texts": [{"text": " "}]}, "texts[0].text"),
    ({"texts": [{"title": "no text"}]}, "texts[0].text"),
    ({"texts": [{"text": "t", "published": "last week"}]}, "texts[0].published"),
    ({"texts": [{"text": "t", "id": ["x"]}]}, "texts[0].id"),
    ({"texts": [{"text": "t", "id": "a"}, {"text": "u", "id": "a"}]}, "texts[1].id"),
    ({"texts": ["t"], "level": "sentence"}, "level"),
    ({"texts": ["t"], "evidence": "maybe"}, "evidence"),
    ({"texts": ["t"], "levels": "both"}, "levels"),
    ({"text": "t"}, "texts"),
    (["t"], "<body>"),
])
def test_invalid_input_is_422_naming_the_field(client: TestClient, body: Any, field: str) -> None:
    found = error_of(post(client, body), 422)
    assert found["error"] == "invalid_input"
    assert field in [e["field"] for e in found["errors"]], found
    assert field in found["message"]


def test_unexpected_failure_is_a_bare_500(artifact: Any, tiny_artifact: Path, caplog: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(config(tiny_artifact), artifact)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(app.state.service, "score", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = post(c, {"texts": ["t"]})
        metrics = c.get("/metrics").text
    body = error_of(r, 500)
    assert body["error"] == "internal_error" and "secret" not in r.text and "ref " in body["message"]
    assert "secret internal detail" in caplog.text  # the traceback went to the server log
    assert 'framescope_errors_total{endpoint="/v1/score",kind="server_500"} 1.0' in metrics


def test_unknown_route_and_method(client: TestClient) -> None:
    assert error_of(client.get("/nope"), 404)["error"] == "not_found"
    assert error_of(client.get("/v1/score"), 405)["error"] == "method_not_allowed"


# --------------------------------------------------------------------------- readiness and draining


def test_not_ready_before_startup(artifact: Any, tiny_artifact: Path) -> None:
    c = TestClient(create_app(config(tiny_artifact), artifact))  # no `with`: startup never ran
    assert c.get("/healthz").status_code == 200
    assert error_of(c.get("/readyz"), 503)["error"] == "not_ready"
    assert error_of(post(c, {"texts": ["t"]}), 503)["error"] == "not_ready"
    assert error_of(c.get("/v1/model"), 503)["error"] == "not_ready"


def test_draining_refuses_new_work_with_503(artifact: Any, tiny_artifact: Path) -> None:
    app = create_app(config(tiny_artifact), artifact)
    with TestClient(app) as c:
        r = post(c, {"texts": ["t"]})
        assert r.status_code == 200 and r.headers.get("connection") != "close"
        app.state.service.begin_drain()
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "draining"
        assert int(r.headers["retry-after"]) > app.state.service.config.drain_seconds
        r = post(c, {"texts": ["t"]})
        assert error_of(r, 503)["error"] == "draining" and r.headers["connection"] == "close"
        r = c.get("/healthz")  # every answer while draining closes its connection
        assert r.status_code == 200 and r.headers["connection"] == "close"
    assert app.state.service.state == "stopped"


def test_sigterm_handler_drains_then_chains() -> None:
    import signal

    from framescope.serving.signals import drain_on_signals

    calls: list[str] = []
    before = signal.signal(signal.SIGTERM, lambda s, f: calls.append("uvicorn"))
    try:
        restore = drain_on_signals(lambda: calls.append("drain"))
        signal.raise_signal(signal.SIGTERM)
        restore()
        signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert calls == ["drain", "uvicorn", "uvicorn"]


def test_sigterm_drain_window_delays_uvicorn() -> None:
    import signal

    from framescope.serving.signals import drain_on_signals

    calls: list[str] = []

    async def main() -> None:
        restore = drain_on_signals(lambda: calls.append("drain"), delay=0.3)
        try:
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(0.1)
            assert calls == ["drain"]  # the window: uvicorn not told yet
            await asyncio.sleep(0.4)
            assert calls == ["drain", "uvicorn"]
            signal.raise_signal(signal.SIGTERM)  # after the window: at once
            assert calls == ["drain", "uvicorn", "drain", "uvicorn"]
        finally:
            restore()

    before = signal.signal(signal.SIGTERM, lambda s, f: calls.append("uvicorn"))
    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, before)


# --------------------------------------------------------------------------- API key


def test_api_key(artifact: Any, tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FS_TEST_KEY", "s3cret-key")
    with TestClient(create_app(config(tiny_artifact, api_key_env="FS_TEST_KEY"), artifact)) as c:
        assert error_of(post(c, {"texts": ["t"]}), 401)["error"] == "unauthorized"
        r = post(c, {"texts": ["t"]}, headers={"Authorization": "Bearer wrong"})
        assert error_of(r, 401) and r.headers["www-authenticate"] == "Bearer"
        assert error_of(c.get("/v1/model"), 401)
        assert error_of(c.post("/v1/score", content=b"{bad", headers={"X-API-Key": "nope"}), 401)
        assert post(c, {"texts": ["t"]}, headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
        assert post(c, {"texts": ["t"]}, headers={"X-API-Key": "s3cret-key"}).status_code == 200
        for open_path in ("/healthz", "/readyz", "/metrics", "/", "/docs"):
            assert c.get(open_path).status_code == 200, open_path
        assert 'id="key"' in c.get("/").text
    monkeypatch.delenv("FS_TEST_KEY")
    with pytest.raises(ValueError, match="FS_TEST_KEY is unset or empty"):
        create_app(config(tiny_artifact, api_key_env="FS_TEST_KEY"), artifact)


# --------------------------------------------------------------------------- metrics, docs, page


def test_metrics(client: TestClient) -> None:
    post(client, {"texts": ["metrics please"]})
    post(client, {"texts": []})
    text = client.get("/metrics").text
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    for needle in ('framescope_requests_total{endpoint="/v1/score",status="200"}',
                   'framescope_requests_total{endpoint="/v1/score",status="422"}',
                   'framescope_request_seconds_bucket{endpoint="/v1/score",le="0.005"}',
                   "framescope_batch_passages_bucket", "framescope_queue_passages 0.0",
                   'framescope_errors_total{endpoint="/v1/score",kind="client_422"}',
                   "framescope_passages_scored_total"):
        assert needle in text, needle


def test_docs_are_served_offline(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        refs = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html)
        assert refs and not [r for r in refs if re.match(r"(?i)(https?:)?//", r)], refs
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        for ref in refs:
            assert client.get(ref).status_code == 200, ref
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "texts" in body["properties"]
    assert {"/v1/model", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])


def test_page_is_self_contained_with_a_strict_csp(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    scripts = re.findall(r"<script([^>]*)>", r.text)
    assert all(f'nonce="{nonce}"' in s or 'type="application/json"' in s for s in scripts)
    assert not re.findall(r'(?:src|href)\s*=\s*["\']https?://', r.text)
    assert "innerHTML" not in r.text and "textContent" in r.text
    assert nonce != re.search(r"'nonce-([^']+)'", client.get("/").headers["content-security-policy"]).group(1)


# --------------------------------------------------------------------------- command line


def test_cli_does_not_import_fastapi_until_serve_runs() -> None:
    code = ("import sys\nfrom framescope.cli import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_cli_refuses_bad_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from framescope.cli import main

    assert main(["serve", "--model", str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err
    monkeypatch.delenv("FS_UNSET_KEY", raising=False)
    assert main(["serve", "--model", str(tmp_path), "--api-key-env", "FS_UNSET_KEY"]) == 2
    assert "FS_UNSET_KEY is unset or empty" in capsys.readouterr().err
    assert main(["serve", "--model", str(tmp_path), "--workers", "2"]) == 2
    assert "no framescope.json" in capsys.readouterr().err


def test_config_travels_to_workers_as_json(tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from framescope.serving.app import app_from_env
    from framescope.serving.config import CONFIG_ENV

    cfg = config(tiny_artifact, workers=2, max_batch=8, api_key_env=None)
    assert ServeConfig.from_json(cfg.to_json()) == cfg
    assert cfg.torch_threads() == max(1, (os.cpu_count() or 1) // 2)
    assert config(tiny_artifact).torch_threads() == (os.cpu_count() or 1)  # one worker: every CPU
    monkeypatch.setenv(CONFIG_ENV, cfg.to_json())
    assert app_from_env().state.service.config == cfg
    monkeypatch.delenv(CONFIG_ENV)
    with pytest.raises(RuntimeError, match=CONFIG_ENV):
        app_from_env()
    with pytest.raises(ValueError, match="unknown serve settings"):
        ServeConfig.from_json('{"modle": "x"}')
    with pytest.raises(ValueError, match="'max_batch' parameter must be a positive integer"):
        ServeConfig(max_batch=0)
    with pytest.raises(ValueError, match="'precision' parameter must be one of"):
        ServeConfig(precision="fp8")


def test_the_worker_hands_freed_memory_back_at_most_once_a_second(artifact: Any, tiny_artifact: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from framescope.serving import service as service_mod

    trims: list[float] = []
    clock = iter([100.0, 100.2, 100.9, 101.1, 101.5, 102.2])
    monkeypatch.setattr(service_mod, "release_memory", lambda: trims.append(1.0))
    monkeypatch.setattr(service_mod, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    svc = service_mod.ScoringService(config(tiny_artifact), artifact)
    svc._load()
    for _ in range(6):
        svc._run(["a text"], False)
    assert len(trims) == 3  # at 100.0, 101.1 and 102.2
