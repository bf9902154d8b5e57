"""Small helpers the benchmark scripts share: the CPU line every timing carries, and the
generated sections of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any


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


def render_saved(results_dir: Path, pattern: str, begin: str, end: str,
                 render: Callable[[list[dict[str, Any]]], str]) -> None:
    """Redraw a script's RESULTS.md section (beside ``results_dir``) from every saved result
    ``results_dir/pattern``; nothing when there is none."""
    import json

    found = [json.loads(f.read_text(encoding="utf-8")) for f in sorted(results_dir.glob(pattern))]
    if found:
        md = results_dir.parent / "RESULTS.md"
        write_section(md, begin, end, render(found))
        print(f"wrote {md}")


def kept_run_parser(description: str, cache: Path, results: Path) -> Any:
    """The options of a script that works on the kept models of a ``bench/quality.py`` run:
    ``--run``, ``--cache``, ``--results-dir`` and ``--render``."""
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--run", help="a bench/quality.py run name (TASK or TASK--TAG) whose models were kept")
    p.add_argument("--cache", type=Path, default=cache, help="bench/quality.py's cache folder")
    p.add_argument("--results-dir", type=Path, default=results,
                   help="where the bench run's TASK.json is and this script's results go (RESULTS.md beside it)")
    p.add_argument("--render", action="store_true", help="only redraw the RESULTS.md section")
    return p


def kept_run(name: str, cache: Path, results: Path, root: Path) -> tuple[dict[str, Any], list[Path], list[str]]:
    """A ``bench/quality.py`` run's saved result, its kept seed models and its evaluation data
    (absolute paths).

    Raises:
        SystemExit: when the run kept no models.
    """
    import json

    bench = json.loads((results / f"{name}.json").read_text(encoding="utf-8"))
    models = sorted((cache / name / "models").glob("seed*"))
    if not models:
        raise SystemExit(f"no kept models under {cache / name / 'models'}: rerun bench/quality.py "
                         "with --keep-models")
    return bench, models, [str((root / p).resolve()) for p in bench["data"]["eval"]]
