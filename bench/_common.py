"""Small helpers the benchmark scripts share: the CPU line every timing carries, and the
generated sections of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU model and core count, reported with every timing."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def write_section(results_md: Path | None, begin: str, end: str, section: str) -> None:
    """Replace the text between the ``begin`` and ``end`` markers of ``results_md`` with
    ``section`` (which holds the markers), or append it; atomic. Nothing when the file is absent."""
    if results_md is None or not results_md.exists():
        return
    from framescope.data.io import atomic_write_text

    text = results_md.read_text(encoding="utf-8")
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    atomic_write_text(results_md, text)
