"""Every command recorded beside a bench result still parses with today's CLI, so a row's
"reproduce" line is not silently broken by a renamed flag or choice (parsing only: nothing runs)."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT, bench_script

RESULTS = sorted((ROOT / "bench" / "results").glob("*.json"))


def _commands(node: Any, prefix: str) -> Iterator[str]:
    if isinstance(node, dict):
        for v in node.values():
            yield from _commands(v, prefix)
    elif isinstance(node, list):
        for v in node:
            yield from _commands(v, prefix)
    elif isinstance(node, str) and node.startswith(prefix):
        yield node


def _rejected(parse: Any, command: str) -> str | None:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            parse(shlex.split(command)[2 if command.startswith("python ") else 1:])
    except SystemExit:
        return f"{command}\n  {err.getvalue().strip().splitlines()[-1]}"
    return None


def test_there_are_recorded_results() -> None:
    assert len(RESULTS) > 10


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_recorded_framescope_commands_parse(path) -> None:
    from framescope.cli import build_parser

    parser = build_parser()
    commands = set(_commands(json.loads(path.read_text(encoding="utf-8")), "framescope "))
    bad = [r for c in sorted(commands) if (r := _rejected(parser.parse_args, c))]
    assert not bad, f"{path.name}: recorded commands the CLI now rejects:\n" + "\n".join(bad)


def test_recorded_quality_commands_parse() -> None:
    quality = bench_script("quality")
    commands = {c for p in RESULTS
                for c in _commands(json.loads(p.read_text(encoding="utf-8")), "python bench/quality.py ")}
    assert commands
    bad = [r for c in sorted(commands) if (r := _rejected(quality.parse_args, c))]
    assert not bad, "recorded bench/quality.py commands it now rejects:\n" + "\n".join(bad)


def test_a_renamed_choice_would_be_caught() -> None:
    from framescope.cli import build_parser

    assert _rejected(build_parser().parse_args, "framescope train --long-records chop") is not None
    assert _rejected(build_parser().parse_args, "framescope train --long-records split") is None
