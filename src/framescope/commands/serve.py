"""``framescope serve``: the HTTP API and web page (needs ``pip install 'framescope[serve]'``)."""

from __future__ import annotations

import argparse
import importlib.util
import sys

DESCRIPTION = """\
Serve a trained model over HTTP (FastAPI on uvicorn): POST /v1/score returns the same passage
and article rows as 'framescope score' on the same records; GET /v1/model, /healthz, /readyz,
/metrics (Prometheus); a web page at / to paste a text and see its frames, scores and evidence;
OpenAPI docs at /docs (served offline). Concurrent requests are micro-batched. SIGTERM drains:
in-flight requests are answered, new ones get 503. See docs/serving.md.
"""

EPILOG = """\
examples:
  framescope serve --model models/default                  # http://127.0.0.1:8000/
  API_KEY=$(openssl rand -hex 32) framescope serve --model models/default --api-key-env API_KEY
  framescope serve --model models/default --host 0.0.0.0 --workers 2   # one model copy per worker
  curl -s localhost:8000/v1/score -H 'content-type: application/json' \\
       -d '{"texts": ["Kyiv says the attack was unprovoked."], "level": "both"}'
"""

#: Modules the command needs, with the distributions that provide them.
NEEDS = {"fastapi": "fastapi", "uvicorn": "uvicorn", "prometheus_client": "prometheus-client",
         "fastapi_offline": "fastapi-offline", "jinja2": "jinja2"}


def register(sub: argparse._SubParsersAction) -> None:
    from framescope.commands.common import positive_int
    from framescope.runtime import PRECISIONS

    p = sub.add_parser("serve", help="serve a model over HTTP: JSON API, web page, metrics",
                       description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/default", help="trained model folder (default: models/default)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                                                        "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="uvicorn worker processes sharing the port (default 1); each loads its own "
                        "copy of the model")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch threads per worker (default: the CPUs divided among the workers)")
    p.add_argument("--api-key-env", default=None, metavar="VAR",
                   help="require the API key held in environment variable VAR on /v1/... "
                        "(header 'Authorization: Bearer KEY' or 'X-API-Key: KEY')")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="as framescope score (default auto: bf16 on CPUs with native bf16, else fp32)")
    batch = p.add_argument_group("micro-batching")
    batch.add_argument("--max-batch", type=positive_int, default=64,
                       help="most passages per forward pass, across concurrent requests (default 64)")
    batch.add_argument("--max-wait-ms", type=float, default=10.0,
                       help="longest wait for more requests before a batch runs (default 10)")
    limits = p.add_argument_group("limits (violations get 413/422 naming the field)")
    limits.add_argument("--max-texts", type=positive_int, default=128,
                        help="texts or articles per request (default 128)")
    limits.add_argument("--max-chars", type=positive_int, default=50_000,
                        help="characters per text (default 50,000)")
    limits.add_argument("--max-body-bytes", type=positive_int, default=2_000_000,
                        help="request body size in bytes (default 2,000,000)")
    p.add_argument("--drain-seconds", type=float, default=2.0,
                   help="after SIGTERM, how long new requests get 503 before the port closes and "
                        "in-flight requests finish (default 2; lets load balancers and keep-alive "
                        "clients move away)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn's log level (default info)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    missing = sorted({dist for mod, dist in NEEDS.items() if importlib.util.find_spec(mod) is None})
    if missing:
        print(f"error: framescope serve needs {', '.join(missing)}: pip install 'framescope[serve]'",
              file=sys.stderr)
        return 2
    from framescope.serving.config import ServeConfig
    from framescope.serving.server import serve

    try:
        config = ServeConfig(model=args.model, host=args.host, port=args.port, workers=args.workers,
                             threads=args.threads, api_key_env=args.api_key_env,
                             max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                             precision=args.precision, max_texts=args.max_texts,
                             max_chars=args.max_chars, max_body_bytes=args.max_body_bytes,
                             drain_seconds=args.drain_seconds)
        config.api_key()  # refuse to start open when a key was asked for
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from framescope.runtime import precision_note

    print(f"precision: {precision_note(config.precision)}", file=sys.stderr)
    artifact = None
    if config.workers == 1:  # load here: a bad model folder or runtime is one clear line, before binding
        from framescope.modeling import load_artifact
        from framescope.runtime import get_runner

        if config.threads:
            import torch

            torch.set_num_threads(config.threads)
        artifact = load_artifact(config.model)
        get_runner(artifact, config.precision)  # an ONNX export, int8 weights: built once, now
    else:
        from pathlib import Path

        if not (Path(config.model) / "framescope.json").is_file():
            print(f"error: {config.model}: no framescope.json; is this a framescope model folder? "
                  "(train one with 'framescope train --out DIR')", file=sys.stderr)
            return 2
    return serve(config, artifact, log_level=args.log_level)
