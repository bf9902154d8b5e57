"""Analyst reports (``framescope report``): aggregation numbers, interval maths, tests of
difference, escaping of hostile feed text, input formats, errors, and rendering in Chromium."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
from pathlib import Path

import pytest

from framescope.cli import main
from framescope.data.errors import DataError
from framescope.data.io import write_records
from framescope.reports.analyst import md_escape, write_report
from framescope.reports.stats import cohens_h, compare_proportions, holm_adjust, period_of, wilson_interval
from framescope.reports.summary import ReportConfig, build_summary, highlight_segments, safe_url

MODEL = {"name": "toy", "fingerprint": "sha256:" + "0" * 64}


def passage(pid: str, aid: str, labels: list[str], *, outlet: str | None, published: str | None,
            x: float | None = None, y: float | None = None, text: str | None = None,
            evidence: dict | None = None, **extra) -> dict:
    """A passage row as ``framescope score`` writes it (thresholds 0.5 applied in ``labels``)."""
    scores = {"x": x if x is not None else (0.9 if "x" in labels else 0.1),
              "y": y if y is not None else (0.8 if "y" in labels else 0.2)}
    row = {"id": pid, "article_id": aid, "index": int(pid.split("#")[1]) if "#" in pid else 0,
           "start": 0, "end": 10, "text": text or f"Passage {pid} about things.",
           "scores": scores, "labels": labels, "model": MODEL}
    if outlet is not None:
        row["outlet"] = outlet
    if published is not None:
        row["published"] = published
    if evidence:
        row["evidence"] = evidence
    return row | extra


def hand_rows() -> tuple[list[dict], list[dict]]:
    """Passage rows and article rows with hand-computable numbers (see the expectations below).

    A: a1{x} a2{x,y} a3{y: article row overrides its passage} a4{y, undated} -> 4 articles, x 2, y 3
    B: b1{x} b2{}                                                              -> 2 articles, x 1, y 0
    C (article rows only): c1{x} c2{}                                         -> 2 articles, x 1, y 0
    no outlet: u1{y}                                                           -> 1 article,  x 0, y 1
    months: 2024-01 {a1 a2 b1}; 2024-02 none; 2024-03 {a3 b2 u1 c1 c2}; undated a4
    """
    text = "NATO fights a proxy war here."
    passages = [
        passage("a1#0", "a1", ["x"], outlet="A", published="2024-01-05", x=0.7),
        passage("a1#1", "a1", [], outlet="A", published="2024-01-05"),
        passage("a2#0", "a2", [], outlet="A", published="2024-01-20"),
        passage("a2#1", "a2", ["x", "y"], outlet="A", published="2024-01-20T10:00:00Z", x=0.95,
                text=text, evidence={"x": [{"start": 14, "end": 19, "text": "proxy", "weight": 0.8},
                                           {"start": 0, "end": 4, "text": "NATO", "weight": 0.2}]}),
        passage("a3#0", "a3", [], outlet="A", published="2024-03-02"),
        passage("a4#0", "a4", ["y"], outlet="A", published=None),
        passage("b1", "b1", ["x"], outlet="B", published="2024-01-10", x=0.6),
        passage("b2", "b2", [], outlet="B", published="2024-03-15"),
        passage("u1", "u1", ["y"], outlet=None, published="2024-03-20"),
    ]
    articles = [
        {"article_id": "a3", "labels": ["y"], "scores": {"x": 0.1, "y": 0.7}, "model": MODEL,
         "best_passage": {"x": "a3#0", "y": "a3#0"}},
        {"article_id": "c1", "outlet": "C", "published": "2024-03-01", "labels": ["x"],
         "scores": {"x": 0.8, "y": 0.1}, "model": MODEL, "best_passage": {"x": "c1#0", "y": "c1#0"}},
        {"article_id": "c2", "outlet": "C", "published": "2024-03-02", "labels": [],
         "scores": {"x": 0.2, "y": 0.1}, "model": MODEL, "best_passage": {"x": "c2#0", "y": "c2#0"}},
    ]
    return passages, articles


@pytest.fixture()
def hand_files(tmp_path: Path) -> list[Path]:
    passages, articles = hand_rows()
    p = tmp_path / "scored.jsonl"
    a = tmp_path / "scored.articles.csv"
    write_records(passages, p)
    write_records(articles, a)
    return [p, a]


def _frames(group: dict) -> dict[str, tuple[int, int]]:
    return {lab: (v["with_frame"], v["articles"]) for lab, v in group["frames"].items()}


def test_aggregation_numbers_by_hand(hand_files: list[Path]) -> None:
    s = build_summary(hand_files, ReportConfig(min_articles=4, top=2, progress=False))
    c = s["counts"]
    assert (c["articles"], c["from_article_rows"], c["derived_from_passages"], c["passages"]) == (9, 3, 6, 9)
    assert (c["groups"], c["unknown_group"], c["undated_articles"]) == (4, 1, 1)
    assert [lab["id"] for lab in s["labels"]] == ["x", "y"]

    groups = {g["group"]: g for g in s["prevalence"]["groups"]}
    assert list(groups) == ["A", "B", "C", "unknown outlet"]  # by size, unknown last
    assert _frames(groups["A"]) == {"x": (2, 4), "y": (3, 4)}  # a3's article row wins: y
    assert _frames(groups["B"]) == {"x": (1, 2), "y": (0, 2)}
    assert _frames(groups["C"]) == {"x": (1, 2), "y": (0, 2)}
    assert _frames(groups["unknown outlet"]) == {"x": (0, 1), "y": (1, 1)}
    assert _frames(s["prevalence"]["overall"]) == {"x": (4, 9), "y": (4, 9)}
    assert [g["low_n"] for g in groups.values()] == [False, True, True, True]
    assert groups["A"]["frames"]["y"]["share"] == pytest.approx(0.75)
    lo, hi = wilson_interval(3, 4)
    assert (groups["A"]["frames"]["y"]["ci_low"], groups["A"]["frames"]["y"]["ci_high"]) == (lo, hi)

    ot = s["over_time"]
    assert [p["period"] for p in ot["periods"]] == ["2024-01", "2024-02", "2024-03"]
    assert ot["undated_articles"] == 1 and ot["undated_by_group"] == {"A": 1}
    series = {x["group"]: x for x in ot["series"]}
    overall = series["All articles"]["points"]
    assert [(p["articles"], p["low_n"]) for p in overall] == [(3, True), (0, True), (5, False)]
    assert _frames(overall[0]) == {"x": (3, 3), "y": (1, 3)}
    assert _frames(overall[2]) == {"x": (1, 5), "y": (2, 5)}
    # the empty period: no articles, no share, the uninformative interval
    assert overall[1]["frames"]["x"] == {"articles": 0, "with_frame": 0, "share": None,
                                         "ci_low": 0.0, "ci_high": 1.0}
    # an outlet with no articles in a period
    b = series["B"]["points"]
    assert [p["articles"] for p in b] == [1, 0, 1] and b[1]["frames"]["x"]["share"] is None
    assert series["A"]["dated_articles"] == 3  # a4 is undated
    assert any("without a publication date" in w for w in s["warnings"])
    assert any("have no dated articles" in w for w in s["warnings"])

    # evidence: the two most confident x passages, the evidence spans highlighted
    ev = s["evidence"]["x"]
    assert [e["passage_id"] for e in ev] == ["a2#1", "a1#0"]
    assert ev[0]["outlet"] == "A" and ev[0]["published"] == "2024-01-20"
    assert [(seg["text"], seg["level"]) for seg in ev[0]["segments"]] == [
        ("NATO", 1), (" fights a ", 0), ("proxy", 3), (" war here.", 0)]
    assert [e["passage_id"] for e in s["evidence"]["y"]] == ["a2#1", "a4#0"]


def test_week_periods_labels_subset_and_by_field(tmp_path: Path) -> None:
    rows = [passage(f"p{i}", f"a{i}", ["x"] if i % 2 else [], outlet="A", published=d, desk=desk)
            for i, (d, desk) in enumerate([("2024-12-30", "world"), ("2025-01-05", "world"),
                                           ("2025-01-20", "business")])]
    path = tmp_path / "s.jsonl"
    write_records(rows, path)
    s = build_summary([path], ReportConfig(period="week", labels=["x"], by="desk", min_articles=1,
                                           progress=False))
    assert [p["period"] for p in s["over_time"]["periods"]] == ["2025-W01", "2025-W02", "2025-W03", "2025-W04"]
    pts = s["over_time"]["series"][0]["points"]
    assert [p["articles"] for p in pts] == [2, 0, 0, 1] and [p["low_n"] for p in pts] == [False, True, True, False]
    assert [lab["id"] for lab in s["labels"]] == ["x"]
    assert {g["group"]: _frames(g) for g in s["prevalence"]["groups"]} == {
        "world": {"x": (1, 2)}, "business": {"x": (0, 1)}}


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    # hand-computed from p̂, z = 1.959964: centre = (p̂ + z²/2n)/(1 + z²/n),
    # half = z·sqrt(p̂(1-p̂)/n + z²/4n²)/(1 + z²/n)
    (0, 10, 0.0, 0.277533), (5, 10, 0.236593, 0.763407), (10, 10, 0.722467, 1.0),
    (1, 4, 0.045587, 0.699358), (3, 4, 0.300642, 0.954413), (0, 0, 0.0, 1.0),
])
def test_wilson_interval_hand_values(k: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-6)


def test_wilson_interval_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson_interval(3, 2)


def test_two_proportion_tests_and_effect_sizes() -> None:
    r = compare_proportions(30, 50, 10, 50)
    assert r["test"] == "z-test"
    assert r["statistic"] == pytest.approx(0.4 / math.sqrt(0.4 * 0.6 * (2 / 50)))  # z = 4.0825
    assert r["p_value"] == pytest.approx(math.erfc(4.0824829 / math.sqrt(2)), rel=1e-5)
    assert r["cohens_h"] == pytest.approx(2 * math.asin(math.sqrt(0.6)) - 2 * math.asin(math.sqrt(0.2)))
    assert r["magnitude"] == "large" and r["difference"] == pytest.approx(0.4)
    low, high = r["difference_ci"]
    assert 0 < low < 0.4 < high < 1
    # small counts: Fisher's exact test (scipy), identical to the textbook value
    from scipy.stats import fisher_exact

    r = compare_proportions(1, 9, 8, 10)
    assert r["test"] == "fisher-exact"
    assert r["p_value"] == pytest.approx(fisher_exact([[1, 8], [8, 2]]).pvalue)
    assert r["p_value"] < 0.01
    assert compare_proportions(0, 5, 0, 7)["p_value"] == 1.0
    assert cohens_h(0.5, 0.5) == 0.0
    assert holm_adjust([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    with pytest.raises(ValueError, match="empty group"):
        compare_proportions(0, 0, 1, 2)


def test_period_helpers() -> None:
    assert period_of(dt.date(2024, 12, 30), "week") == ("2025-W01", dt.date(2024, 12, 30))
    assert period_of(dt.date(2024, 2, 29), "month") == ("2024-02", dt.date(2024, 2, 1))
    assert period_of(dt.date(2024, 11, 3), "quarter") == ("2024-Q4", dt.date(2024, 10, 1))
    assert period_of(dt.date(2024, 11, 3), "year") == ("2024", dt.date(2024, 1, 1))


def test_compare_outlets(hand_files: list[Path], tmp_path: Path) -> None:
    s = build_summary(hand_files, ReportConfig(compare=("a", "B"), progress=False))  # case-insensitive
    cmp = s["comparison"]
    assert (cmp["a"], cmp["b"], cmp["articles_a"], cmp["articles_b"]) == ("A", "B", 4, 2)
    rows = {r["label"]: r for r in cmp["frames"]}
    assert (rows["y"]["with_a"], rows["y"]["with_b"]) == (3, 0)
    assert rows["y"]["difference"] == pytest.approx(0.75)
    assert rows["y"]["test"] == "fisher-exact"
    assert [r["label"] for r in cmp["frames"]] == ["y", "x"]  # sorted by |h|
    assert all(r["p_holm"] >= r["p_value"] for r in cmp["frames"])
    write_report(s, tmp_path / "rep")
    head = (tmp_path / "rep" / "comparison.csv").read_text().splitlines()[0]
    assert head.startswith("label,group_a,articles_a,with_a,share_a,group_b")
    with pytest.raises(DataError, match=r"no articles with outlet 'Bee'.*Did you mean 'B'"):
        build_summary(hand_files, ReportConfig(compare=("A", "Bee"), progress=False))


def test_writes_every_output(hand_files: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "reports" / "hand"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    s = build_summary(hand_files, ReportConfig(min_articles=4, progress=False))
    files = write_report(s, out)
    for name in ("summary.json", "prevalence_by_outlet.csv", "prevalence_over_time.csv",
                 "report.md", "report.html", "figures/heatmap.png", "figures/over_time.png"):
        assert (out / name).is_file() and name in files, name
    assert (out / "keep.txt").read_text() == "mine"  # other files are left alone
    umask = os.umask(0o022)
    os.umask(umask)
    assert (out / "report.html").stat().st_mode & 0o777 == 0o666 & ~umask  # shareable, not 0600
    assert not list(out.glob(".*"))  # no temporary files left behind
    assert json.loads((out / "summary.json").read_text())["counts"]["articles"] == 9
    lines = (out / "prevalence_by_outlet.csv").read_text().splitlines()
    assert lines[0] == "outlet,label,articles,with_frame,share,ci_low,ci_high,low_n"
    assert "A,y,4,3,0.75," in "\n".join(lines)
    over = (out / "prevalence_over_time.csv").read_text()
    assert "B,2024-02,2024-02-01,x,0,0,,0.0,1.0,True" in over  # empty period: no share
    html = (out / "report.html").read_text()
    assert html.count("<img src=\"data:image/png;base64,") >= 2
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing fetched from the network
    md = (out / "report.md").read_text()
    assert "![" in md and "(figures/heatmap.png)" in md
    assert "| A | 4 |" in md and "75% (30–95%)" in md


HOSTILE = "<script>alert('pwned')</script>"


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    rows = [passage("h1", "h1", ["x"], outlet="<b>Evil</b> $News$", published="2024-01-01",
                    text=f"Breaking {HOSTILE} <img src=x onerror=alert(1)> & more",
                    title=f"Title {HOSTILE}", url="javascript:alert(1)",
                    evidence={"x": [{"start": 9, "end": 17, "weight": 1.0}]}),
            passage("h2", "h2", ["x"], outlet="Fine", published="2024-01-02",
                    title="ok", url="https://example.org/a?b=1&c=\"2\"")]
    path = tmp_path / "hostile.jsonl"
    write_records(rows, path)
    out = tmp_path / "rep"
    assert main(["report", str(path), "--out", str(out), "--title", HOSTILE, "--no-progress"]) == 0
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower() and "<img src=x" not in html and "<b>Evil" not in html
    assert "javascript:" not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert '<mark class="l3" title="weight 1.000">&lt;script&gt;</mark>alert' in html  # escaped, then marked
    assert "Content-Security-Policy" in html
    md = (out / "report.md").read_text()
    assert "<script" not in md.lower() and "<img" not in md and "javascript:" not in md
    assert "&lt;script&gt;" in md
    assert safe_url("javascript:alert(1)") is None and safe_url("https://e.org/x") == "https://e.org/x"


def test_markdown_helpers() -> None:
    assert md_escape("a | b\n*c*") == "a \\| b \\*c\\*"
    segs = highlight_segments("abcdef", [{"start": 1, "end": 3, "weight": 0.1},
                                         {"start": 2, "end": 5, "weight": 0.9}])
    assert [(s["text"], s["level"]) for s in segs] == [("a", 0), ("bcde", 3), ("f", 0)]
    segs = highlight_segments("abc", [{"start": 0, "end": 1, "weight": 0.0}, {"start": 2, "end": 3}])
    assert [(s["text"], s["level"]) for s in segs] == [("ab", 0), ("c", 3)]  # weight 0 is no evidence


def test_csv_and_parquet_inputs_match_jsonl(tmp_path: Path) -> None:
    passages, articles = hand_rows()
    results = []
    for suffix in (".jsonl", ".csv", ".parquet"):
        p, a = tmp_path / f"p{suffix}", tmp_path / f"a{suffix}"
        write_records(passages, p)
        write_records(articles, a)
        s = build_summary([p, a], ReportConfig(compare=("A", "B"), progress=False))
        results.append({k: s[k] for k in ("counts", "prevalence", "over_time", "comparison", "evidence")})
    assert results[0] == results[1] == results[2]


def test_article_rows_only_still_reports(tmp_path: Path) -> None:
    _, articles = hand_rows()
    path = tmp_path / "articles.jsonl"
    write_records(articles, path)
    s = build_summary([path], ReportConfig(progress=False))
    assert s["counts"]["articles"] == 3 and s["counts"]["passages"] == 0
    assert all(not v for v in s["evidence"].values())
    assert any("article rows only" in w for w in s["warnings"])


@pytest.mark.parametrize(("row", "field", "message"), [
    ({"id": "p", "text": "t", "labels": ["x"], "scores": {"x": 1.7}}, "scores.x", "probability in"),
    ({"id": "p", "text": "t", "labels": ["z"], "scores": {"x": 0.7}}, "labels", "have no score"),
    ({"id": "p", "text": "t", "scores": {"x": 0.7}}, "labels", "missing"),
    ({"id": "p", "text": "t", "labels": [], "scores": {"x": 0.1}, "published": "last week"},
     "published", "ISO date"),
    ({"id": "p", "text": "short", "labels": ["x"], "scores": {"x": 0.9},
      "evidence": {"x": [{"start": 2, "end": 40}]}}, "evidence.x[0]", "inside the passage"),
])
def test_malformed_rows_name_file_line_field(tmp_path: Path, row: dict, field: str, message: str) -> None:
    good = passage("g", "g", [], outlet="A", published="2024-01-01")
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        build_summary([path], ReportConfig(progress=False))
    assert f"{path}:2: field '{field}'" in str(err.value)
    assert message in str(err.value)


def test_cli_errors(tmp_path: Path, hand_files: list[Path], capsys: pytest.CaptureFixture) -> None:
    trunc = tmp_path / "trunc.jsonl"
    trunc.write_text('{"id": "p", "text": "t", "labels": [], "scor', encoding="utf-8")
    assert main(["report", str(trunc), "--out", str(tmp_path / "r")]) == 2
    assert f"{trunc}:1: field '<record>': not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing written
    assert main(["report", *map(str, hand_files), "--out", str(tmp_path / "r"), "--labels", "x,zz"]) == 2
    assert "unknown label(s) 'zz'; the scored files have: x, y" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "r")]) == 2
    assert "scored file not found" in capsys.readouterr().err
    assert main(["report", *map(str, hand_files), "--out", str(tmp_path / "r"), "--by", "desk"]) == 2
    assert "no article has a 'desk' field" in capsys.readouterr().err
    errors_file = tmp_path / "x.errors.jsonl"
    errors_file.write_text(json.dumps({"source": "f", "line": 1, "field": "text", "message": "m"}) + "\n")
    assert main(["report", str(errors_file), "--out", str(tmp_path / "r")]) == 2
    assert "errors file" in capsys.readouterr().err


def test_cli_end_to_end(hand_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rep"
    code = main(["report", *map(str, hand_files), "--out", str(out), "--compare", "A", "B",
                 "--period", "month", "--min-articles", "2", "--top", "1", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "9 articles (3 from article rows, 6 derived from passages), 9 passages" in printed
    assert (out / "comparison.csv").is_file()
    s = json.loads((out / "summary.json").read_text())
    assert s["options"]["compare"] == ["A", "B"] and all(len(v) <= 1 for v in s["evidence"].values())


@pytest.mark.slow
def test_html_renders_in_headless_chromium(hand_files: list[Path], tmp_path: Path, chromium_path: str) -> None:
    browser = chromium_path
    passages, _ = hand_rows()
    passages[0]["title"] = HOSTILE
    passages[0]["text"] = f"Alarm {HOSTILE} in the text"
    write_records(passages, hand_files[0])
    out = tmp_path / "rep"
    write_report(build_summary(hand_files, ReportConfig(min_articles=2, compare=("A", "B"),
                                                        progress=False)), out)
    page = (out / "report.html").resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "Frame prevalence by outlet" in dom and "Evidence: the most confident passages" in dom
    assert "<script" not in dom.lower()  # the hostile text never became an element
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in dom  # ...it is shown as text
    assert dom.count("<img ") >= 2
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,2400", page],
                   capture_output=True, timeout=120, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a real page, not a blank one


@pytest.mark.slow
def test_report_on_real_score_output(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Schema contract with ``framescope score`` (skipped until the scoring command exists)."""
    pytest.importorskip("framescope.commands.score")
    import pyarrow.parquet as pq

    tiny_artifact = request.getfixturevalue("tiny_artifact")
    toy_jsonl = request.getfixturevalue("toy_jsonl")
    summaries = []
    for suffix in (".jsonl", ".parquet"):
        scored = tmp_path / f"scored{suffix}"
        assert main(["score", "--model", str(tiny_artifact), str(toy_jsonl), "--out", str(scored),
                     "--level", "both", "--evidence", "-q"]) == 0
        articles = scored.with_name(f"scored.articles{suffix}")
        assert articles.is_file()
        out = tmp_path / f"rep{suffix}"
        assert main(["report", str(scored), str(articles), "--out", str(out), "--no-progress",
                     "--min-articles", "2"]) == 0
        s = json.loads((out / "summary.json").read_text())
        assert s["counts"]["articles"] == 20 and s["counts"]["from_article_rows"] == 20
        assert [lab["id"] for lab in s["labels"]] == ["alpha", "beta", "gamma"]
        n_rows = len(pq.read_table(scored)) if suffix == ".parquet" else len(scored.read_text().splitlines())
        assert s["counts"]["passages"] == n_rows >= 60 and s["models"][0]["name"] == "tiny"
        summaries.append({k: s[k] for k in ("counts", "prevalence")})
    assert summaries[0] == summaries[1]
