"""The spreadsheet round trip: the CSV ``framescope label select --out BATCH.csv`` writes (built
here by the real writer, :func:`framescope.labelling.exports.csv_table`), filled in by
annotators and read back by ``framescope label import`` (``--format sheet``, detected); and the
schema's reading of ``start``/``end``/``index`` CSV cells."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, TOY_LABELS
from conftest import import_counts as counts
from conftest import jsonl_rows as rows
from conftest import run_label_import as run

from framescope.cli import main
from framescope.data.schema import RecordErrorException, record_to_passage
from framescope.labelling.exports import Pick, csv_table
from framescope.labelling.imports import detect_export_format, read_export
from framescope.labelling.sheet_exports import parse_label_cell

LS_CSV = ROOT / "tests" / "fixtures" / "label_studio" / "export.csv"
TEXTS = {
    "p1": "Apples from the orchard.\nA second line about the harvest.",  # two lines in the file
    "p2": "Boats in the harbour.",
    "p3": '=HYPERLINK("http://x") says the council about guitars.',  # csv_safe guards it
    "p4": "'Tis the season for concerts.",  # a real leading quote, not a guard
}


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def picks(texts: dict[str, str] = TEXTS) -> list[Pick]:
    """Selected passages as ``label select`` holds them (the task data of TASK_FIELDS)."""
    out = []
    for rank, (pid, text) in enumerate(texts.items(), 1):
        scores = {"alpha": 0.61, "beta": 0.2, "gamma": 0.05}
        data = {"id": pid, "passage_id": pid, "text": text, "text_sha1": sha1(text),
                "source": "feed.jsonl", "record_id": f"art{rank}", "start": 10 * rank,
                "end": 10 * rank + len(text), "rank": rank, "strategy": "uncertainty",
                "scores": scores}
        out.append(Pick(data, ["alpha"], 0.22))
    return out


def sheet(tmp_path: Path, name: str = "sheet.csv", texts: dict[str, str] = TEXTS) -> Path:
    path = tmp_path / name
    path.write_text(csv_table(picks(texts), TOY_LABELS), encoding="utf-8")
    return path


def fill(src: Path, dest: Path, labels: dict[str, str], *, extra: dict[str, dict] | None = None,
         delimiter: str = ",") -> Path:
    """A filled copy of a sheet, as a spreadsheet saves it: cells as they were, ``labels`` set."""
    with open(src, encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    columns = list(table[0]) + sorted({k for v in (extra or {}).values() for k in v} - set(table[0]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\r\n", delimiter=delimiter)
    writer.writeheader()
    for row in table:
        row["labels"] = labels.get(row["id"], "")
        row.update((extra or {}).get(row["id"], {}))
        writer.writerow(row)
    dest.write_text(buf.getvalue(), encoding="utf-8")
    return dest


FILLED = {"p1": "alpha; beta", "p2": "none", "p3": "gamma|beta", "p4": " alpha "}


def test_writer_output_is_what_the_reader_expects(tmp_path: Path) -> None:
    with open(sheet(tmp_path), encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["id", "text", "text_sha1", "source", "record_id", "start", "end", "rank",
                              "strategy", "predicted", "p_alpha", "p_beta", "p_gamma", "labels"]
    assert table[2]["text"] == "'" + TEXTS["p3"] and table[3]["text"] == TEXTS["p4"]
    assert all(r["labels"] == "" and r["predicted"] == "alpha" for r in table)


def test_filled_sheet_round_trip(tax: Path, tmp_path: Path, capsys) -> None:
    selected = sheet(tmp_path)
    filled = fill(selected, tmp_path / "ann1.csv", FILLED)
    assert detect_export_format(filled) == "sheet"
    out = tmp_path / "labelled.jsonl"
    code, stdout, err = run(capsys, filled, "--taxonomy", tax, "--out", out, "--batch", selected)
    assert code == 0, err
    assert counts(stdout) == (4, 4, 0, 0)
    got = {r["id"]: r for r in rows(out)}
    assert {k: v["labels"] for k, v in got.items()} == {
        "p1": ["alpha", "beta"], "p2": [], "p3": ["beta", "gamma"], "p4": ["alpha"]}
    assert {k: v["text"] for k, v in got.items()} == TEXTS  # the guard undone, the real quote kept
    p1 = got["p1"]
    assert (p1["start"], p1["end"], p1["article_id"]) == (10, 10 + len(TEXTS["p1"]), "art1")
    assert p1["meta"]["annotators"] == {"ann1": ["alpha", "beta"]}
    assert p1["meta"]["selection"] == {"source": "feed.jsonl", "record_id": "art1", "rank": 1,
                                       "strategy": "uncertainty"}
    assert p1["meta"]["task_ids"] == ["2"]  # the spreadsheet row
    assert "predicted" not in json.dumps(got) and "p_alpha" not in json.dumps(got)
    assert main(["data", "validate", str(out), "--taxonomy", str(tax)]) == 0
    assert "OK: 1 input(s) valid" in capsys.readouterr().out


def test_training_on_a_filled_sheet_directly_says_to_import_it(tax: Path, tmp_path: Path) -> None:
    """'none' would become a label and empty cells errors: train and evaluate refuse the sheet."""
    from framescope.data import DataError
    from framescope.data.dataset import load_passages
    from framescope.data.records import ReadOptions

    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv", FILLED)
    with pytest.raises(DataError, match=r"ann1\.csv:1: field 'labels': this is a label sheet.*label import"):
        load_passages([filled], ReadOptions(labels_required=True), taxonomy="infer", on_error="stop")
    assert len(load_passages([filled], ReadOptions(), taxonomy=None).passages) == 4  # scoring reads it


def test_semicolon_delimited_sheet(tax: Path, tmp_path: Path, capsys) -> None:
    """Spreadsheets in some locales save CSV with ';' between cells."""
    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv", FILLED, delimiter=";")
    assert filled.read_text(encoding="utf-8").startswith("id;text;text_sha1;")
    assert detect_export_format(filled) == "sheet"
    code, stdout, err = run(capsys, filled, "--taxonomy", tax, "--out", tmp_path / "l.jsonl")
    assert code == 0, err
    assert counts(stdout) == (4, 4, 0, 0)
    assert [r["labels"] for r in rows(tmp_path / "l.jsonl")][:2] == [["alpha", "beta"], []]


def test_empty_cell_is_an_error_not_no_frame(tax: Path, tmp_path: Path, capsys) -> None:
    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv", {**FILLED, "p2": "  "})
    out = tmp_path / "out" / "labelled.jsonl"
    code, _, err = run(capsys, filled, "--taxonomy", tax, "--out", out)
    assert code == 2
    # p1's text holds a line break: p2 is spreadsheet row 3, starting on line 4 of the file
    assert f"{filled.as_posix()}:4: field 'labels': row 3 (passage p2): not labelled" in err, err
    assert "write the labels" in err and "`none` for no frame" in err
    assert not (tmp_path / "out").exists()  # nothing written
    code, stdout, err = run(capsys, filled, "--taxonomy", tax, "--out", out, "--on-error", "skip")
    assert code == 0, err
    assert counts(stdout) == (4, 3, 1, 0)
    [e] = rows(tmp_path / "out" / "labelled.errors.jsonl")
    assert (e["source"], e["line"], e["field"], e["record_id"]) == (filled.as_posix(), 4, "labels", "p2")
    assert "p2" not in [r["id"] for r in rows(out)]


def test_unknown_label_names_label_row_and_taxonomy(tax: Path, tmp_path: Path, capsys) -> None:
    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv", {**FILLED, "p4": "alpha, gama"})
    code, _, err = run(capsys, filled, "--taxonomy", tax, "--out", tmp_path / "l.jsonl")
    assert code == 2
    assert (f"{filled.as_posix()}:6: field 'labels': row 5 (passage p4): annotator ann1: unknown "
            "label 'gama'; known labels (3): alpha, beta, gamma. Did you mean 'gamma'?") in err, err


@pytest.mark.parametrize(("cell", "message"), [("none; alpha", "'none' (no frame) together with labels"),
                                               (";;", "no label ids in ';;'")])
def test_unreadable_label_cells(cell: str, message: str, tax: Path, tmp_path: Path, capsys) -> None:
    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv", {**FILLED, "p2": cell})
    code, _, err = run(capsys, filled, "--taxonomy", tax, "--out", tmp_path / "l.jsonl")
    assert code == 2 and "field 'labels': row 3 (passage p2): " + message in err, err


def test_label_cells() -> None:
    assert parse_label_cell("alpha;beta , gamma|alpha") == ["alpha", "beta", "gamma"]
    assert parse_label_cell("NONE") == parse_label_cell(" - ") == parse_label_cell("'-") == []
    assert parse_label_cell("") is None and parse_label_cell("  ") is None
    assert parse_label_cell("beta;") == ["beta"]


def test_changed_text_is_still_an_error(tax: Path, tmp_path: Path, capsys) -> None:
    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv", FILLED,
                  extra={"p3": {"text": "'" + TEXTS["p3"] + " (edited)"},
                         "p2": {"text": "'" + TEXTS["p2"]}})  # a quote on a text never guarded
    code, stdout, err = run(capsys, filled, "--taxonomy", tax, "--out", tmp_path / "l.jsonl",
                            "--on-error", "skip")
    assert code == 0, err
    assert counts(stdout) == (4, 2, 2, 0)
    errors = {e["record_id"]: e for e in rows(tmp_path / "l.errors.jsonl")}
    assert sorted(errors) == ["p2", "p3"]
    assert errors["p3"]["field"] == "text_sha1"
    assert "does not match the sha1 of the text" in errors["p3"]["message"]


def test_two_annotators_majority_tie_and_agreement(tax: Path, tmp_path: Path, capsys) -> None:
    selected = sheet(tmp_path)
    a1 = fill(selected, tmp_path / "ann1.csv", {"p1": "alpha", "p2": "beta", "p3": "none", "p4": "gamma"})
    a2 = fill(selected, tmp_path / "ann2.csv", {"p1": "alpha", "p2": "beta; gamma", "p3": "-",
                                                "p4": "gamma"})
    out = tmp_path / "labelled.jsonl"
    code, stdout, err = run(capsys, a1, a2, "--taxonomy", tax, "--out", out, "--batch", selected)
    assert code == 0, err
    assert counts(stdout) == (4, 3, 0, 1)
    got = {r["id"]: r for r in rows(out)}
    assert {k: v["labels"] for k, v in got.items()} == {"p1": ["alpha"], "p3": [], "p4": ["gamma"]}
    assert got["p1"]["meta"]["decided_by"] == "unanimous"
    assert got["p1"]["meta"]["annotators"] == {"ann1": ["alpha"], "ann2": ["alpha"]}
    assert got["p1"]["meta"]["exports"] == [a1.as_posix(), a2.as_posix()]
    [tie] = rows(tmp_path / "labelled.adjudication.jsonl")
    assert tie["id"] == "p2" and tie["tied"] == ["gamma"] and tie["majority"] == ["beta"]
    assert tie["votes"]["gamma"] == {"yes": 1, "of": 2} and tie["decision"] is None
    report = json.loads((tmp_path / "labelled.agreement.json").read_text(encoding="utf-8"))
    assert report["annotators"] == ["ann1", "ann2"]
    by = {r["label"]: r for r in report["labels"]}
    assert by["alpha"]["percent_agreement"] == 1.0 and by["alpha"]["cohen_kappa"] == pytest.approx(1.0)
    # gamma: ann1 0,0,0,1; ann2 0,1,0,1: p_o = 3/4, p_e = .25*.5 + .75*.5 = .5, kappa = .5
    assert by["gamma"]["tasks"] == 4
    assert by["gamma"]["percent_agreement"] == pytest.approx(0.75)
    assert by["gamma"]["cohen_kappa"] == pytest.approx(0.5)
    # the adjudicator decides; the same command applies it
    adj = tmp_path / "labelled.adjudication.jsonl"
    adj.write_text(json.dumps(dict(tie, decision=["beta"])) + "\n", encoding="utf-8")
    code, stdout, _ = run(capsys, a1, a2, "--taxonomy", tax, "--out", out)
    assert code == 0 and counts(stdout) == (4, 4, 0, 0)
    assert {r["id"]: r["labels"] for r in rows(out)}["p2"] == ["beta"]


def test_annotator_column_overrides_the_file_stem(tax: Path, tmp_path: Path, capsys) -> None:
    selected = sheet(tmp_path)
    a1 = fill(selected, tmp_path / "x.csv", {"p1": "alpha", "p2": "beta", "p3": "none", "p4": "gamma"},
              extra={pid: {"annotator": "alice"} for pid in TEXTS})
    a2 = fill(selected, tmp_path / "y.csv", {"p1": "alpha", "p2": "beta; gamma", "p3": "none", "p4": "gamma"},
              extra={"p1": {"annotator": "bob"}})  # empty cells fall back to the stem
    # one file holding both annotators' rows is read the same way
    both = tmp_path / "team.csv"
    both.write_text(a1.read_text(encoding="utf-8") + a2.read_text(encoding="utf-8").split("\n", 1)[1],
                    encoding="utf-8")
    for files in ([a1, a2], [both]):
        out = tmp_path / "l.jsonl"
        code, stdout, err = run(capsys, *files, "--taxonomy", tax, "--out", out)
        assert code == 0, err
        assert counts(stdout) == (4, 3, 0, 1)
        who = {r["id"]: sorted(r["meta"]["annotators"]) for r in rows(out)}
        stem = "team" if files == [both] else "y"
        assert who == {"p1": ["alice", "bob"], "p3": ["alice", stem], "p4": ["alice", stem]}


def test_the_same_row_twice_and_same_named_sheets(tax: Path, tmp_path: Path, capsys) -> None:
    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv", FILLED)
    lines = filled.read_bytes().decode("utf-8").split("\r\n")[:-1]
    twice = tmp_path / "twice.csv"
    twice.write_bytes("\r\n".join([*lines, lines[-1]]).encode("utf-8") + b"\r\n")  # p4 again
    code, _, err = run(capsys, twice, "--taxonomy", tax, "--out", tmp_path / "l.jsonl")
    assert code == 2 and "row 6 (passage p4): annotator twice answers this passage again" in err
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    copies = [shutil.copy(filled, tmp_path / d / "ann1.csv") for d in "ab"]
    code, _, err = run(capsys, *copies, "--taxonomy", tax, "--out", tmp_path / "l.jsonl")
    assert code == 2 and f"{Path(copies[1]).as_posix()}: field '<file>': another sheet" in err
    assert "both would be annotator 'ann1'" in err


def test_single_label_sheet(tax: Path, tmp_path: Path, capsys) -> None:
    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv",
                  {"p1": "alpha", "p2": "beta", "p3": "gamma; beta", "p4": "none"})
    code, stdout, err = run(capsys, filled, "--taxonomy", tax, "--out", tmp_path / "l.jsonl",
                            "--single-label", "--on-error", "skip")
    assert code == 0, err
    assert counts(stdout) == (4, 2, 2, 0)
    errors = {e["record_id"]: e["message"] for e in rows(tmp_path / "l.errors.jsonl")}
    assert "annotator ann1 chose 2 labels ['gamma', 'beta']; a single-label task takes exactly one" \
        in errors["p3"]
    assert "chose 0 labels" in errors["p4"]


def test_detection_against_label_studio_csv(tmp_path: Path) -> None:
    filled = fill(sheet(tmp_path), tmp_path / "ann1.csv", FILLED)
    assert detect_export_format(filled) == "sheet"
    assert detect_export_format(LS_CSV) == "ls-csv"  # it has text_sha1 and rank too
    assert read_export(LS_CSV).format == "ls-csv" and read_export(filled).format == "sheet"
    # a Label Studio project whose control is called "labels": still Label Studio
    renamed = tmp_path / "ls-labels.csv"
    header, rest = LS_CSV.read_text(encoding="utf-8").split("\n", 1)
    renamed.write_text(header.replace('"frames"', '"labels"') + "\n" + rest, encoding="utf-8")
    assert detect_export_format(renamed, control="labels") == "ls-csv"
    assert read_export(renamed, control="labels").tasks[0].votes[0].labels == ["humanitarian_toll"]
    # the wrong --format is named, with the right one
    [err] = read_export(LS_CSV, "sheet").errors
    assert "--format sheet given, but the file looks like a ls-csv export" in err.message
    assert err.hint.startswith("pass --format ls-csv")
    [err] = read_export(filled, "ls-csv").errors
    assert "looks like a sheet export" in err.message
    # a CSV with neither shape, read as a sheet, says which columns are missing
    odd = tmp_path / "odd.csv"
    odd.write_text("id,body\np1,hello\n", encoding="utf-8")
    [err] = read_export(odd, "sheet").errors
    assert "columns ['text', 'labels'] missing" in err.message and err.line == 1


# ----------------------------------------------------------------------------- schema: CSV cells


def test_offsets_from_csv_cells() -> None:
    p = record_to_passage({"id": "a", "text": "Hello there.", "start": "3", "end": " 12 ", "index": "0"},
                          source="x.csv", line=2)
    assert (p.start, p.end, p.index) == (3, 12, 0)
    p = record_to_passage({"id": "a", "text": "Hello.", "start": "", "end": "", "index": ""},
                          source="x.csv", line=2)
    assert (p.start, p.end, p.index) == (None, None, None)
    for name, bad in [("start", "3.0"), ("end", "-4"), ("index", "two"), ("start", "１")]:
        with pytest.raises(RecordErrorException) as info:
            record_to_passage({"id": "a", "text": "Hello.", name: bad}, source="x.csv", line=7)
        e = info.value.error
        assert (e.source, e.line, e.field) == ("x.csv", 7, name)
        assert "expected a non-negative integer" in e.message and repr(bad) in e.message
    with pytest.raises(RecordErrorException) as info:
        record_to_passage({"id": "a", "text": "Hello there.", "start": "9", "end": "4"},
                          source="x.csv", line=3)
    assert info.value.error.field == "end"


def test_offsets_in_a_csv_file_validate(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.csv"
    good.write_text("id,text,labels,start,end\na,Apples here.,alpha,0,12\nb,Boats.,beta,,\n",
                    encoding="utf-8")
    assert main(["data", "validate", str(good), "--taxonomy", "none"]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text,labels,start,end\na,Apples here.,alpha,0,twelve\n", encoding="utf-8")
    assert main(["data", "validate", str(bad), "--taxonomy", "none"]) != 0
    out = capsys.readouterr()
    assert f"{bad}:2: field 'end'" in out.out + out.err
