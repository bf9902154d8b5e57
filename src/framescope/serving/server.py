"""Running the app with uvicorn: one process, or ``workers`` processes behind one port.

Scale-out is uvicorn's own: with ``workers > 1`` its supervisor binds the port once and starts
worker processes that share it (the kernel spreads connections over them). Each worker calls
:func:`framescope.serving.app.app_from_env` and loads its own copy of the model (memory grows
with the workers; torch threads are divided among them). Metrics are summed over workers
through prometheus-client's multiprocess mode (a temporary ``PROMETHEUS_MULTIPROC_DIR``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import TYPE_CHECKING

from framescope.serving.config import CONFIG_ENV, ServeConfig

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = ["serve"]

logger = logging.getLogger(__name__)


def serve(config: ServeConfig, artifact: Artifact | None = None, *, log_level: str = "info") -> int:
    """Serve until SIGTERM/SIGINT, then drain (graceful shutdown). Returns the exit code.

    Args:
        config: the settings.
        artifact: the loaded model (one worker only; workers load their own).
        log_level: uvicorn's log level.
    """
    import uvicorn

    if config.workers == 1:
        from framescope.serving.app import create_app

        app = create_app(config, artifact)
        server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level=log_level,
                                               lifespan="on", timeout_graceful_shutdown=None))
        server.run()
        return 0 if server.started else 3
    os.environ[CONFIG_ENV] = config.to_json()
    own_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = tempfile.mkdtemp(prefix="framescope-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir
    try:
        uvicorn.run("framescope.serving.app:app_from_env", factory=True, host=config.host,
                    port=config.port, workers=config.workers, log_level=log_level, lifespan="on")
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
    return 0
