"""Readers and adapters: every format, .gz, column mapping, format detection."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import shared, toy_records

from framescope.data import (
    ReadOptions,
    ReadStats,
    detect_format,
    load_passages,
    read_passages,
)


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_reads_all_fields(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", [
        {"id": "x1", "text": "Hello.", "labels": ["a"], "article_id": "A", "outlet": "O",
         "published": "2023-01-02", "url": "https://example.org/x", "title": "T"}])
    [p] = list(read_passages([path]))
    assert (p.id, p.text, p.labels, p.article_id, p.outlet, p.published) == (
        "x1", "Hello.", ["a"], "A", "O", "2023-01-02")
    assert p.source == str(path) and p.line == 1


def test_gzip_is_transparent(tmp_path: Path) -> None:
    rows = toy_records(10)
    path = tmp_path / "t.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    assert detect_format(path) == "jsonl"
    assert [p.id for p in read_passages([path])] == [r["id"] for r in rows]


def test_csv_column_mapping_and_label_forms(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('\ufeffdoc,body,tags\r\n1,"First, with comma",a;b\r\n2,Second,"[""c""]"\r\n3,Third,\r\n',
                    encoding="utf-8")
    opts = ReadOptions(text_column="body", labels_column="tags", id_column="doc")
    got = list(read_passages([path], opts))
    assert [(p.id, p.text, p.labels) for p in got] == [
        ("1", "First, with comma", ["a", "b"]), ("2", "Second", ["c"]), ("3", "Third", None)]


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "d.tsv"
    path.write_text("id\ttext\tlabels\nq\tSome text\tx\n", encoding="utf-8")
    [p] = list(read_passages([path]))
    assert p.labels == ["x"]


def test_parquet(tmp_path: Path) -> None:
    rows = toy_records(7)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    got = list(read_passages([path]))
    assert [p.labels for p in got] == [r["labels"] for r in rows]


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Test Channel</title>
<item><title>First &amp; foremost</title><link>https://example.org/1</link>
<guid isPermaLink="false">g1</guid><pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate>
<source url="https://example.org/">Outlet One</source>
<content:encoded><![CDATA[<p>Para <em>one</em> &amp; more.</p><script>alert(1)</script><p>Para two.</p>]]></content:encoded>
</item>
<item><title>Second</title><guid>g2</guid><description>Plain summary text.</description></item>
</channel></rss>"""


def test_rss_strips_html_and_maps_metadata(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(RSS, encoding="utf-8")
    a, b = list(read_passages([path]))
    assert a.id == "g1" and a.title == "First & foremost" and a.outlet == "Outlet One"
    assert a.published == "2024-03-05" and a.url == "https://example.org/1"
    assert a.text == "Para one & more.\n\nPara two." and "alert" not in a.text
    assert b.outlet == "Test Channel" and b.text == "Plain summary text."


def test_txt_dir(tmp_path: Path) -> None:
    (tmp_path / "arts").mkdir()
    (tmp_path / "arts" / "one.txt").write_text("Title line\n\nBody para.\r\n", encoding="utf-8")
    (tmp_path / "arts" / "two.txt").write_text("Just text", encoding="utf-8")
    got = list(read_passages([tmp_path / "arts"]))
    assert [(p.id, p.title) for p in got] == [("one", "Title line"), ("two", None)]
    assert "\r" not in got[0].text


def test_glob_inputs(tmp_path: Path) -> None:
    for i in range(3):
        _write_jsonl(tmp_path / f"p{i}.jsonl", [{"id": f"r{i}", "text": "t"}])
    assert len(list(read_passages([str(tmp_path / "p*.jsonl")]))) == 3


def test_detect_format_by_content(tmp_path: Path) -> None:
    path = tmp_path / "noext"
    path.write_text('{"id": 1, "text": "x"}\n', encoding="utf-8")
    assert detect_format(path) == "jsonl"
    path.write_text("<rss></rss>", encoding="utf-8")
    assert detect_format(path) == "rss"


@pytest.mark.shared_data
def test_semeval_persuasion_adapter_counts() -> None:
    folder = shared("semeval2023-t3-persuasion")
    stats = ReadStats()
    passages = list(read_passages([folder], stats=stats))
    train = [p for p in passages if p.split == "train"]
    dev = [p for p in passages if p.split == "dev"]
    assert len(train) == 9498 and len({p.article_id for p in train}) == 446
    assert len(dev) == 3127 and len({p.article_id for p in dev}) == 90
    assert sum(bool(p.labels) for p in train) == 3760
    assert stats.read == stats.accepted == 12625
    single = list(read_passages([folder / "dev-labels-subtask-3.txt"]))
    assert len(single) == 3127 and all(p.split == "dev" for p in single)


@pytest.mark.shared_data
def test_semeval_frames_adapter_counts() -> None:
    folder = shared("semeval2023-t3-frames")
    passages = list(read_passages([folder]))
    assert sum(p.split == "train" for p in passages) == 433
    assert sum(p.split == "dev" for p in passages) == 83
    sec = sum("Security_and_defense" in p.labels for p in passages if p.split == "train")
    assert sec == 187
    assert all(p.title and p.title in p.text.split("\n", 1)[0] for p in passages)


@pytest.mark.shared_data
def test_babe_adapter_excludes_no_agreement() -> None:
    folder = shared("babe")
    data = load_passages([folder])  # the excluded row must not stop the run
    assert data.stats.read == 3674 and data.stats.accepted == 3673
    assert data.stats.rejected == data.stats.excluded == 1
    labels = [p.labels[0] for p in data.passages]
    assert labels.count("Biased") == 1810 and labels.count("Non-biased") == 1863
    assert sum(bool(p.meta["biased_words"]) for p in data.passages) >= 1800
