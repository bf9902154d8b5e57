"""Bad input: precise errors naming file, line and field; stop vs skip; counts invariant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framescope.cli import main
from framescope.data import (
    DataError,
    ErrorLog,
    ReadStats,
    Taxonomy,
    load_passages,
    read_passages,
    validate_inputs,
)

TAX = Taxonomy.from_ids(["a", "b"])

CASES = [
    ("not json", "{\"id\": \"1\", \"text\": ", "<record>", "not valid JSON"),
    ("array", "[1, 2]", "<record>", "expected a JSON object"),
    ("missing text", "{\"id\": \"m\"}", "text", "missing"),
    ("empty text", "{\"id\": \"e\", \"text\": \"\"}", "text", "empty"),
    ("blank text", "{\"id\": \"w\", \"text\": \"  \\n \"}", "text", "empty"),
    ("text type", "{\"id\": \"n\", \"text\": 42}", "text", "expected a string"),
    ("labels type", "{\"id\": \"l\", \"text\": \"x\", \"labels\": 7}", "labels", "expected a list"),
    ("label item", "{\"id\": \"li\", \"text\": \"x\", \"labels\": [\"a\", 3]}", "labels", "label strings"),
    ("unknown label", "{\"id\": \"u\", \"text\": \"x\", \"labels\": [\"zzz\"]}", "labels", "unknown label 'zzz'"),
    ("id type", "{\"id\": {\"x\": 1}, \"text\": \"x\"}", "id", "expected a string or integer"),
    ("date", "{\"id\": \"d\", \"text\": \"x\", \"published\": \"yesterday\"}", "published", "ISO date"),
    ("url type", "{\"id\": \"r\", \"text\": \"x\", \"url\": [\"a\"]}", "url", "expected a string"),
    ("null", "null", "<record>", "expected a JSON object"),
]


@pytest.mark.parametrize(("name", "line", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_bad_record_names_file_line_field(tmp_path: Path, name: str, line: str, field: str,
                                                message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "text": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_passages([path], taxonomy=TAX)
    [err] = info.value.errors
    assert (err.source, err.line, err.field) == (str(path), 2, field)
    assert message in err.message
    assert f"{path}:2: field '{field}'" in str(info.value)


def test_duplicate_id_names_first_occurrence(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n{"id": "a", "text": "z"}\n')
    with pytest.raises(DataError, match=r"dup.jsonl:3: field 'id': duplicate id 'a' \(first seen at .*dup.jsonl:1\)"):
        load_passages([path])


def test_invalid_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "enc.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "1", "text": "caf\xc3\xa9"}\r\n{"id": "2", "text": "caf\xe9"}\r\n')
    stats, log = validate_inputs([path])
    assert stats.read == 2 and stats.accepted == 1 and stats.rejected == 1
    assert log.first[0].line == 2 and "invalid UTF-8" in log.first[0].message


def test_zero_byte_binary_and_not_xml(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(b"\x00\x01\x02binary\x00")
    feed = tmp_path / "feed.xml"
    feed.write_text("this is not xml at all", encoding="utf-8")
    stats, log = validate_inputs([empty, binary, feed])
    msgs = {Path(e.source).name: e.message for e in log.first}
    assert "empty" in msgs["empty.jsonl"]
    assert "binary" in msgs["blob.jsonl"]
    assert "not a valid RSS/Atom feed" in msgs["feed.xml"]
    assert stats.read == stats.rejected == 3


def test_missing_file(tmp_path: Path) -> None:
    stats, log = validate_inputs([tmp_path / "nope.jsonl"])
    assert log.first[0].message == "file not found" and stats.rejected == 1


def test_stop_reports_first_errors_and_total(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(f'{{"id": "{i}"}}\n' for i in range(30)), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_passages([path])
    assert info.value.total == 30 and len(info.value.errors) == 20
    assert "30 bad input record(s); nothing was written." in str(info.value)
    assert "... and 10 more" in str(info.value)


def test_skip_writes_errors_file_and_counts_hold(tmp_path: Path) -> None:
    path = tmp_path / "mix.jsonl"
    lines = [f'{{"id": "g{i}", "text": "good {i}"}}' for i in range(5)] + [c[1] for c in CASES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    errors = tmp_path / "errors.jsonl"
    data = load_passages([path], taxonomy=TAX, on_error="skip", errors_path=errors)
    rows = [json.loads(x) for x in errors.read_text().splitlines()]
    assert len(data.passages) == 5 and len(rows) == len(CASES)
    assert data.stats.read == data.stats.accepted + data.stats.rejected == 5 + len(CASES)
    assert {r["field"] for r in rows} >= {"text", "labels", "id", "published", "url", "<record>"}
    assert all(r["source"] == str(path) and r["line"] > 5 for r in rows)


def test_streaming_stop_raises_at_first_error(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "1", "text": "a"}\n{"id": "2"}\n{"id": "3", "text": "c"}\n')
    got = []
    with pytest.raises(DataError):
        got.extend(read_passages([path], on_error="stop"))
    assert [p.id for p in got] == ["1"]
    log, stats = ErrorLog(), ReadStats()
    ok = list(read_passages([path], on_error="skip", log=log, stats=stats))
    assert [p.id for p in ok] == ["1", "3"] and stats.rejected == 1


SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def test_bundled_bad_records_file_gives_20_precise_errors(tmp_path: Path, capsys) -> None:
    bad = SAMPLES / "bad-records.jsonl"
    if not bad.exists():
        pytest.skip("data/samples/bad-records.jsonl not written yet")
    rc = main(["data", "validate", str(bad), "--taxonomy", "default"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "INVALID: 20 bad record(s)" in out
    assert sum(line.startswith(f"{bad}:") for line in out.splitlines()) == 20
    out_file = tmp_path / "conv.jsonl"
    rc = main(["data", "convert", str(bad), "--taxonomy", "default", "--out", str(out_file),
               "--on-error", "skip", "--errors", str(tmp_path / "err.jsonl")])
    errors = (tmp_path / "err.jsonl").read_text().splitlines()
    written = out_file.read_text().splitlines() if out_file.exists() else []
    total = sum(1 for line in bad.read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip())
    assert len(errors) + len(written) == total
    assert len(errors) == 20
