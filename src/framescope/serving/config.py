"""The settings of ``framescope serve``: one dataclass for the command's flags and its workers."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

__all__ = ["CONFIG_ENV", "ServeConfig"]

#: Environment variable through which ``framescope serve --workers N`` hands its settings to
#: each uvicorn worker process (the app factory :func:`framescope.serving.app.app_from_env`).
CONFIG_ENV = "FRAMESCOPE_SERVE_CONFIG"


@dataclass
class ServeConfig:
    """Settings of the scoring service (the ``framescope serve`` flags).

    Attributes:
        model: the model folder.
        host, port: where uvicorn listens.
        workers: uvicorn worker processes behind the one port (each loads its own model copy).
        threads: torch threads per worker (default: the CPU count divided by ``workers``).
        api_key_env: name of the environment variable holding the API key; ``None``: no key.
        max_batch: most passages per forward pass of the micro-batcher.
        max_wait_ms: longest wait for more requests before a batch runs.
        precision: ``auto``, ``fp32``, ``bf16``, ``int8`` or ``onnx`` (:mod:`framescope.runtime`).
        max_texts: most texts (or articles) in one request.
        max_chars: most characters in one text.
        max_body_bytes: largest request body.
        evidence_top_k, evidence_units: evidence settings, as in ``framescope score``.
        drain_seconds: after SIGTERM, how long new requests get 503 (``Connection: close``)
            before uvicorn stops listening and closes idle connections.

    Example:
        >>> ServeConfig(model="models/default", max_batch=32).max_batch
        32
    """

    model: str = "models/default"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    threads: int | None = None
    api_key_env: str | None = None
    max_batch: int = 64
    max_wait_ms: float = 10.0
    precision: str = "auto"
    max_texts: int = 128
    max_chars: int = 50_000
    max_body_bytes: int = 2_000_000
    evidence_top_k: int = 5
    evidence_units: int = 32
    drain_seconds: float = 2.0

    def __post_init__(self) -> None:
        from framescope.runtime import PRECISIONS

        if self.precision not in PRECISIONS:
            raise ValueError(f"The 'precision' parameter must be one of {', '.join(PRECISIONS)}. "
                             f"Got {self.precision!r} instead.")
        for name in ("workers", "max_batch", "max_texts", "max_chars", "max_body_bytes",
                     "evidence_top_k", "evidence_units"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"The '{name}' parameter must be a positive integer. Got {value!r} instead.")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"The 'threads' parameter must be a positive integer or None. "
                             f"Got {self.threads!r} instead.")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"The 'port' parameter must be an integer in [0, 65535]. Got {self.port!r} instead.")
        if isinstance(self.max_wait_ms, bool) or not isinstance(self.max_wait_ms, (int, float)) \
                or not 0 <= self.max_wait_ms <= 10_000:
            raise ValueError(f"The 'max_wait_ms' parameter must be a number in [0, 10000]. "
                             f"Got {self.max_wait_ms!r} instead.")
        if isinstance(self.drain_seconds, bool) or not isinstance(self.drain_seconds, (int, float)) \
                or not 0 <= self.drain_seconds <= 300:
            raise ValueError(f"The 'drain_seconds' parameter must be a number in [0, 300]. "
                             f"Got {self.drain_seconds!r} instead.")

    def api_key(self) -> str | None:
        """The API key from the environment variable named by ``api_key_env`` (``None``: no key).

        Raises:
            ValueError: when the variable is named but unset or empty (the service refuses to
                start open when a key was asked for).
        """
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env, "")
        if not key.strip():
            raise ValueError(f"--api-key-env {self.api_key_env}: the environment variable "
                             f"{self.api_key_env} is unset or empty; export it with the key "
                             f"(e.g. export {self.api_key_env}=$(openssl rand -hex 32))")
        return key.strip()

    def torch_threads(self) -> int:
        """Threads each worker gives torch (and ONNX Runtime): ``threads``, else the CPUs shared
        among workers. Always set: the model loads in a helper thread, where torch's own default
        was one thread (bench/serve_load.py measured 43 passages/s instead of 76 on 2 cores)."""
        if self.threads is not None:
            return self.threads
        return max(1, (os.cpu_count() or 1) // self.workers)

    def to_json(self) -> str:
        """The settings as JSON (for :data:`CONFIG_ENV`)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        """Settings from :meth:`to_json` (unknown keys are an error).

        Raises:
            ValueError: for malformed JSON or unknown keys.
        """
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown serve settings {unknown}; known: {sorted(known)}")
        return cls(**data)
