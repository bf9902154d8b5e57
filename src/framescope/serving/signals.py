"""Draining on SIGTERM: the app learns of the signal the moment it arrives.

uvicorn shuts down gracefully on SIGTERM: it stops accepting connections, closes idle
keep-alive connections, waits for in-flight requests, then runs the app's shutdown (where the
micro-batcher finishes queued work). The app chains its own step in front of uvicorn's handler,
in every worker process: readiness turns 503 at once, and for a drain window (``delay``
seconds, ``--drain-seconds``) the service keeps listening and answers every new request with
503 and ``Connection: close``, so load balancers and keep-alive clients move away before
uvicorn closes the connections; only then is uvicorn's handler called. A second signal
during the window skips the rest of it.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["drain_on_signals"]


def drain_on_signals(callback: Callable[[], None], *, delay: float = 0.0,
                     signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> Callable[[], None]:
    """Call ``callback`` when one of ``signals`` arrives, then, ``delay`` seconds later (when
    called from a running event loop), the handler that was there before (uvicorn's).

    Returns a function that puts the previous handlers back. Outside the main thread (where
    Python cannot install handlers) nothing is installed.

    Example:
        >>> restore = drain_on_signals(service.begin_drain, delay=2.0)  # doctest: +SKIP
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    installed: dict[int, tuple[Any, Any]] = {}
    window: dict[str, Any] = {"open": False, "timer": None}

    def chain(previous: Any, signum: int, frame: Any) -> None:
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    def later(previous: Any, signum: int) -> None:  # in the event loop, not in the signal handler
        assert loop is not None
        if window["open"]:
            window["timer"] = loop.call_later(delay, chain, previous, signum, None)

    def cancel() -> None:
        if window["timer"] is not None:
            window["timer"].cancel()
        window["open"], window["timer"] = False, None

    for sig in signals:
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            callback()
            if window["open"] or delay <= 0 or loop is None or loop.is_closed():
                cancel()  # a second signal ends the window now
                chain(previous, signum, frame)
                return
            window["open"] = True
            loop.call_soon_threadsafe(later, previous, signum)  # safe from a signal handler

        signal.signal(sig, handler)
        installed[sig] = (handler, previous)

    def restore() -> None:
        cancel()
        for sig, (handler, previous) in installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)

    return restore
