"""``framescope label import``: every export format (real Label Studio exports recorded from a live
server, Argilla exports written by the argilla SDK), every bad-export case, stop/skip counts,
majority votes, ties and adjudication, agreement figures checked by hand, and the output read
back by ``framescope data validate`` and ``framescope train``."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from conftest import ROOT, TOY_LABELS, TOY_WORDS
from conftest import import_counts as counts
from conftest import jsonl_rows as rows
from conftest import run_label_import as run

from framescope.cli import main
from framescope.data import DataError, Taxonomy, load_taxonomy
from framescope.data.dataset import load_labelled
from framescope.labelling.adjudication import decide
from framescope.labelling.agreement import agreement
from framescope.labelling.consensus import ImportConfig, import_labels
from framescope.labelling.imports import detect_export_format, read_export

LS = ROOT / "tests" / "fixtures" / "label_studio"
ARGILLA = ROOT / "tests" / "fixtures" / "argilla"
LS_EXPORTS = ("export.json", "export-min.json", "export.csv")
ARGILLA_LABELS = ["economic_consequences", "conflict", "human_interest"]


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def ann(aid: int, who: int | dict, choices: list[str] | None = None, *, cancelled: bool = False,
        when: str = "2026-01-01T10:00:00Z") -> dict:
    """A Label Studio annotation as the JSON export writes it."""
    result = [] if not choices else [{"id": f"r{aid}", "from_name": "frames", "to_name": "text",
                                      "type": "choices", "origin": "manual",
                                      "value": {"choices": choices}}]
    return {"id": aid, "completed_by": who, "result": result, "was_cancelled": cancelled,
            "ground_truth": False, "created_at": when, "updated_at": when, "lead_time": 3.0}


def task(tid: int, annotations: list[dict], *, text: str | None = None, pid: str | None = None,
         predicted: list[str] | None = None, **data) -> dict:
    """A Label Studio task with the data ``label select`` writes (and a model prediction)."""
    text = text if text is not None else f"Passage {tid} about apples and boats."
    pid = pid or f"p{tid}"
    d = {"id": pid, "text": text, "text_sha1": sha1(text), "source": "feed.jsonl",
         "record_id": f"art{tid}", "start": 0, "end": len(text), "rank": tid, "strategy": "mixed"}
    d.update(data)
    pred = {"id": tid, "model_version": "m1", "score": 0.4,
            "result": [{"from_name": "frames", "to_name": "text", "type": "choices",
                        "value": {"choices": predicted or []}}]}
    return {"id": tid, "data": d, "annotations": annotations, "predictions": [pred]}


def write(path: Path, doc) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=1), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- real exports


@pytest.mark.parametrize("name", LS_EXPORTS)
def test_real_label_studio_exports(name: str, tmp_path: Path, capsys) -> None:
    """The server's own JSON, JSON_MIN and CSV exports (tests/fixtures/label_studio/README.md)."""
    out = tmp_path / "labelled.jsonl"
    code, stdout, err = run(capsys, LS / name, "--taxonomy", "default", "--out", out,
                            "--on-error", "skip", "--batch", LS / "tasks.json")
    assert code == 0, err
    assert counts(stdout) == (8, 5, 1, 2)  # task 8 never annotated; tasks 2 and 4 tied
    got = {r["id"]: r for r in rows(out)}
    assert sorted(got) == ["sample-0018#0", "sample-0022#7", "sample-0026#6", "sample-0029#6",
                           "sample-0030#4"]
    assert got["sample-0018#0"]["labels"] == ["humanitarian_toll"]
    assert got["sample-0018#0"]["meta"]["decided_by"] == "unanimous"
    # the prediction said operation_euphemism: pre-annotations never become labels
    assert got["sample-0022#7"]["labels"] == ["sanctions_economy"]
    assert got["sample-0026#6"]["labels"] == []  # both submitted "no frame"
    assert got["sample-0026#6"]["meta"]["n_annotators"] == 2
    # one annotator skipped: the other's answer stands alone
    assert got["sample-0029#6"]["labels"] == ["operation_euphemism", "diplomacy_peace"]
    assert got["sample-0029#6"]["meta"]["n_annotators"] == 1
    assert got["sample-0029#6"]["meta"]["decided_by"] == "single annotator"
    assert got["sample-0030#4"]["article_id"] == "sample-0030"
    assert got["sample-0030#4"]["start"] == 1414 and isinstance(got["sample-0030#4"]["end"], int)
    errors = rows(tmp_path / "labelled.errors.jsonl")
    never = "annotations" if name == "export.json" else "annotation_id"  # null in JSON-MIN/CSV
    assert [(e["field"], e["record_id"]) for e in errors] == [(never, "sample-0033#4")]
    ties = {r["id"]: r for r in rows(tmp_path / "labelled.adjudication.jsonl")}
    assert sorted(ties) == ["sample-0021#0", "sample-0023#4"]
    assert ties["sample-0021#0"]["tied"] == ["sanctions_economy"]
    assert ties["sample-0021#0"]["majority"] == ["military_support"]
    assert ties["sample-0021#0"]["votes"]["sanctions_economy"] == {"yes": 1, "of": 2}
    assert ties["sample-0021#0"]["decision"] is None
    report = json.loads((tmp_path / "labelled.agreement.json").read_text())
    by_label = {r["label"]: r for r in report["labels"]}
    # sanctions_economy over tasks 1-5: annotator 1 = 0,0,1,1,0; annotator 2 = 0,1,1,0,0:
    # p_o = 3/5, p_e = .4*.4 + .6*.6 = .52, kappa = .08/.48 = 1/6
    assert by_label["sanctions_economy"]["tasks"] == 5
    assert by_label["sanctions_economy"]["percent_agreement"] == pytest.approx(0.6)
    assert by_label["sanctions_economy"]["cohen_kappa"] == pytest.approx(1 / 6, abs=1e-6)
    assert report["annotators"] == ["1", "2"]


def test_real_exports_merged_are_the_same_tasks(tmp_path: Path, capsys) -> None:
    """JSON + JSON_MIN + CSV of one project: the same 8 tasks and 12 answers, nothing doubled."""
    out = tmp_path / "all.jsonl"
    code, stdout, err = run(capsys, *(LS / n for n in LS_EXPORTS), "--taxonomy", "default",
                            "--out", out, "--on-error", "skip")
    assert code == 0, err
    assert counts(stdout) == (8, 5, 1, 2)
    assert "replaced" not in err
    got = {r["id"]: r for r in rows(out)}
    assert got["sample-0018#0"]["meta"]["exports"] == [(LS / n).as_posix() for n in
                                                       sorted(LS_EXPORTS)]
    assert got["sample-0018#0"]["meta"]["n_annotators"] == 2


def test_json_min_loses_passage_ids_and_batch_restores_them(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, LS / "export-min.json", "--taxonomy", "default", "--out",
                       tmp_path / "a.jsonl", "--on-error", "skip")
    assert code == 0
    assert "ids were rebuilt as RECORD_ID:START-END" in err
    ids = [r["id"] for r in rows(tmp_path / "a.jsonl")]
    assert "sample-0018:0-243" in ids
    assert all(r["meta"]["id_rebuilt"] for r in rows(tmp_path / "a.jsonl"))
    run(capsys, LS / "export-min.json", "--taxonomy", "default", "--out", tmp_path / "b.jsonl",
        "--on-error", "skip", "--batch", LS / "tasks.json")
    assert "sample-0018#0" in [r["id"] for r in rows(tmp_path / "b.jsonl")]


def test_real_exports_are_detected() -> None:
    assert [detect_export_format(LS / n) for n in LS_EXPORTS] == ["ls-json", "ls-json-min", "ls-csv"]
    assert detect_export_format(ARGILLA / "records_to_json.json") == "argilla"
    assert detect_export_format(ARGILLA / "records_to_datasets.jsonl") == "argilla"


def test_format_flag_mismatch_and_unknown_format() -> None:
    [err] = read_export(LS / "export.json", "ls-json-min").errors
    assert err.field == "<file>" and "looks like a ls-json export" in err.message
    assert "pass --format ls-json" in err.hint
    with pytest.raises(ValueError, match="The 'fmt' parameter of read_export must be one of"):
        read_export(LS / "export.json", "xml")


@pytest.mark.parametrize("name", ["records_to_list_flatten.json", "records_to_datasets.jsonl"])
def test_argilla_exports_with_status(name: str, tmp_path: Path, capsys) -> None:
    """Argilla's flattened exports keep each response's status: drafts and discards do not count."""
    taxonomy = write(tmp_path / "t.json", {"labels": ARGILLA_LABELS})
    code, stdout, err = run(capsys, ARGILLA / name, "--taxonomy", taxonomy, "--out",
                            tmp_path / "l.jsonl", "--on-error", "skip")
    assert code == 0, err
    assert counts(stdout) == (3, 0, 1, 2)
    [e] = rows(tmp_path / "l.errors.jsonl")
    assert e["record_id"] == "p3" and "no submitted answer (only discarded, draft" in e["message"]
    assert e["field"] == "frames.responses[0]"
    ties = {r["id"]: r for r in rows(tmp_path / "l.adjudication.jsonl")}
    assert ties["p1"]["tied"] == ["conflict"] and ties["p1"]["majority"] == ["economic_consequences"]
    assert ties["p2"]["annotators"]["00000000-0000-0000-0000-00000000000b"] == []  # "no frame"


def test_argilla_to_json_drops_the_status_and_says_so(tmp_path: Path, capsys) -> None:
    taxonomy = write(tmp_path / "t.json", {"labels": ARGILLA_LABELS})
    code, stdout, err = run(capsys, ARGILLA / "records_to_json.json", "--taxonomy", taxonomy,
                            "--out", tmp_path / "l.jsonl", "--format", "argilla")
    assert code == 0
    assert "without a status" in err and "to_list(flatten=True)" in err
    assert counts(stdout) == (3, 1, 0, 2)
    [p3] = rows(tmp_path / "l.jsonl")
    assert p3["id"] == "p3" and p3["labels"] == ["conflict"]
    assert "suggestion" not in json.dumps(p3)


def test_argilla_api_shapes(tmp_path: Path) -> None:
    """``Response.serialize`` lists and the API's per-user ``values`` are read too."""
    text = "Boats sail in the harbour."
    recs = [{"id": "q1", "fields": {"text": text}, "metadata": {"text_sha1": sha1(text)},
             "responses": [{"question_name": "frames", "value": ["beta"], "user_id": "u1",
                            "status": "submitted"},
                           {"values": {"frames": {"value": ["beta", "gamma"]}}, "user_id": "u2",
                            "status": "submitted"},
                           {"values": {"frames": {"value": ["alpha"]}}, "user_id": "u3",
                            "status": "draft"}],
             "suggestions": [{"question_name": "frames", "value": ["alpha"], "score": [0.9]}]}]
    f = read_export(write(tmp_path / "api.json", recs))
    votes = {v.annotator: (v.labels, v.status) for v in f.tasks[0].votes}
    assert votes == {"u1": (["beta"], "submitted"), "u2": (["beta", "gamma"], "submitted"),
                     "u3": (None, "draft")}


# ----------------------------------------------------------------------------- bad exports


def _bad_cases(tmp: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (export, field, message part): one bad task among good ones, or a bad file."""
    good = [task(1, [ann(1, 1, ["alpha"])]), task(2, [ann(2, 1, ["beta"])])]
    edited = task(3, [ann(3, 1, ["alpha"])])
    edited["data"]["text"] += " (edited)"
    empty = task(3, [ann(3, 1, ["alpha"])], text="   ")
    no_text = task(3, [ann(3, 1, ["alpha"])])
    del no_text["data"]["text"]
    cases = {
        "unknown label": ([*good, task(3, [ann(3, 2, ["alpah"])])], "annotations[0].result",
                          "annotator 2: unknown label 'alpah'"),
        "missing text": ([*good, no_text], "data.text", "no text"),
        "empty text": ([*good, empty], "data.text", "empty text"),
        "no annotations": ([*good, task(3, [])], "annotations", "no annotations"),
        "all cancelled": ([*good, task(3, [ann(3, 1, cancelled=True), ann(4, 2, cancelled=True)])],
                          "annotations[0].was_cancelled", "every annotation was cancelled"),
        "text edited": ([*good, edited], "data.text_sha1", "does not match the sha1 of the text"),
        "wrong control": ([*good, task(3, [{**ann(3, 1), "result": [
            {"from_name": "frame", "type": "choices", "value": {"choices": ["alpha"]}}]}])],
            "annotations[0].result", "choices under ['frame'], none under 'frames'"),
    }
    out = {name: (write(tmp / f"{i}.json", doc), fld, msg)
           for i, (name, (doc, fld, msg)) in enumerate(cases.items())}
    out["malformed JSON"] = (write(tmp / "trunc.json", json.dumps(good, indent=1)[:-40]), "<file>",
                             "not valid JSON")
    out["wrong top-level shape"] = (write(tmp / "shape.json", '{"tasks": []}'), "<file>",
                                    "expected a JSON list of tasks or records")
    out["unknown format"] = (write(tmp / "odd.json", [{"foo": 1, "bar": 2}]), "<file>",
                             "unknown export format: the first record has keys ['bar', 'foo']")
    out["bad CSV cell"] = (write(tmp / "bad.csv", 'id,text,annotator,annotation_id,frames\n'
                                 'p1,Some text.,1,7,"{""choices"": [""alpha"""\n'), "frames",
                           "looks like JSON but does not parse")
    return out


@pytest.mark.parametrize("case", ["unknown label", "missing text", "empty text", "no annotations",
                                  "all cancelled", "text edited", "wrong control", "malformed JSON",
                                  "wrong top-level shape", "unknown format", "bad CSV cell"])
def test_bad_export_stops_before_writing(case: str, tax: Path, tmp_path: Path, capsys) -> None:
    export, fld, message = _bad_cases(tmp_path)[case]
    out = tmp_path / "out" / "labelled.jsonl"
    code, _, err = run(capsys, export, "--taxonomy", tax, "--out", out)
    assert code == 2
    assert f"field '{fld}'" in err and message in err, err
    assert export.name in err and "(fix: " in err
    assert not (tmp_path / "out").exists()  # nothing written, not even the agreement file


def test_bad_error_names_file_task_and_passage(tax: Path, tmp_path: Path) -> None:
    export, _, _ = _bad_cases(tmp_path)["unknown label"]
    with pytest.raises(DataError) as info:
        import_labels([export], tmp_path / "l.jsonl", ImportConfig(load_taxonomy(tax)))
    [e] = info.value.errors
    assert (e.source, e.line, e.record_id) == (export.as_posix(), 3, "p3")
    assert str(e).startswith(f"{export.as_posix()}:3: field 'annotations[0].result': task 3 "
                             "(passage p3): annotator 2: unknown label 'alpah'")
    assert "Did you mean 'alpha'?" in str(e)


def test_stop_vs_skip_counts(tax: Path, tmp_path: Path, capsys) -> None:
    doc = [task(1, [ann(1, 1, ["alpha"])]), task(2, [ann(2, 1, ["zeta"])]), task(3, []),
           task(4, [ann(4, 1, ["beta"]), ann(5, 2, [])]), task(5, [ann(6, 1, [])])]
    export = write(tmp_path / "e.json", doc)
    broken = write(tmp_path / "broken.json", "[{")
    code, _, err = run(capsys, export, broken, "--taxonomy", tax, "--out", tmp_path / "l.jsonl")
    assert code == 2 and "3 bad input record(s); nothing was written" in err
    assert list(tmp_path.glob("l.*")) == []
    code, stdout, err = run(capsys, export, broken, "--taxonomy", tax, "--out",
                            tmp_path / "l.jsonl", "--on-error", "skip", "--errors",
                            tmp_path / "bad.jsonl")
    assert code == 0
    # 5 tasks + 1 unreadable file = 2 accepted + 3 rejected + 1 tie (task 4: beta 1 of 2)
    assert counts(stdout) == (6, 2, 3, 1)
    assert [(e["field"], e["line"]) for e in rows(tmp_path / "bad.jsonl")] == [
        ("<file>", 1), ("annotations[0].result", 2), ("annotations", 3)]


def test_batch_checks_membership_and_text(tax: Path, tmp_path: Path, capsys) -> None:
    selected = [task(1, []), task(2, [])]
    batch = write(tmp_path / "batch.json", [{"data": t["data"]} for t in selected])
    other = task(9, [ann(9, 1, ["alpha"])])
    changed = task(2, [ann(2, 1, ["beta"])], text="Passage 2 about apples and boats.")
    changed["data"]["text"] = changed["data"]["text"].replace("boats", "ships")
    changed["data"]["text_sha1"] = sha1(changed["data"]["text"])  # re-hashed: only the batch can tell
    export = write(tmp_path / "e.json", [task(1, [ann(1, 1, ["alpha"])]), other, changed])
    code, stdout, _ = run(capsys, export, "--taxonomy", tax, "--out", tmp_path / "l.jsonl",
                          "--batch", batch, "--on-error", "skip")
    assert code == 0 and counts(stdout) == (3, 1, 2, 0)
    errors = {e["record_id"]: e for e in rows(tmp_path / "l.errors.jsonl")}
    assert errors["p9"]["field"] == "data.id"
    assert "passage 'p9' is not in the batch" in errors["p9"]["message"]
    assert errors["p2"]["field"] == "data.text"
    assert "differs from the selected passage" in errors["p2"]["message"]


def test_csv_batch_with_formula_guard(tax: Path, tmp_path: Path, capsys) -> None:
    """``label select``'s spreadsheet CSV prefixes formula-like text with ' (text_sha1 is of
    the original): the batch check sees through it."""
    text = "=SUM of the apples."
    buf = io.StringIO()
    csv.writer(buf).writerows([["id", "text", "text_sha1"], ["p1", "'" + text, sha1(text)]])
    batch = write(tmp_path / "batch.csv", buf.getvalue())
    export = write(tmp_path / "e.json", [task(1, [ann(1, 1, ["alpha"])], text=text, pid="p1")])
    code, stdout, err = run(capsys, export, "--taxonomy", tax, "--out", tmp_path / "l.jsonl",
                            "--batch", batch)
    assert code == 0, err
    assert counts(stdout) == (1, 1, 0, 0)


# ----------------------------------------------------------------------------- label semantics


def test_no_frame_is_a_label_set_and_predictions_are_ignored(tax: Path, tmp_path: Path, capsys) -> None:
    doc = [task(1, [ann(1, 1, [])], predicted=["alpha", "beta"]),
           task(2, [ann(2, 1, cancelled=True)], predicted=["gamma"])]
    code, stdout, _ = run(capsys, write(tmp_path / "e.json", doc), "--taxonomy", tax, "--out",
                          tmp_path / "l.jsonl", "--on-error", "skip")
    assert code == 0 and counts(stdout) == (2, 1, 1, 0)
    [row] = rows(tmp_path / "l.jsonl")
    assert row["labels"] == [] and row["meta"]["annotators"] == {"1": []}
    [e] = rows(tmp_path / "l.errors.jsonl")
    assert "cancelled" in e["message"] and e["record_id"] == "p2"


def test_json_min_single_choice_string_and_empty(tax: Path, tmp_path: Path) -> None:
    text = "Apples and boats."
    base = {"id": 5, "text": text, "text_sha1": sha1(text), "created_at": "2026-01-01T00:00:00Z"}
    doc = [{**base, "frames": "alpha", "annotator": 1, "annotation_id": 1},
           {**base, "frames": {"choices": ["alpha", "beta"]}, "annotator": 2, "annotation_id": 2},
           {**base, "annotator": 3, "annotation_id": 3}]
    f = read_export(write(tmp_path / "min.json", doc))
    assert f.format == "ls-json-min"
    assert [v.labels for v in f.tasks[0].votes] == [["alpha"], ["alpha", "beta"], []]


def test_majority_tie_adjudication_round_trip(tax: Path, tmp_path: Path, capsys) -> None:
    three = task(1, [ann(1, 1, ["alpha", "beta"]), ann(2, 2, ["alpha"]), ann(3, 3, ["alpha", "gamma"])])
    tie = task(2, [ann(4, 1, ["beta"]), ann(5, 2, ["beta", "gamma"])])
    export = write(tmp_path / "e.json", [three, tie])
    out = tmp_path / "l.jsonl"
    code, stdout, _ = run(capsys, export, "--taxonomy", tax, "--out", out)
    assert code == 0 and counts(stdout) == (2, 1, 0, 1)
    [row] = rows(out)
    assert row["labels"] == ["alpha"] and row["meta"]["votes"] == {"alpha": 3, "beta": 1, "gamma": 1}
    adj = tmp_path / "l.adjudication.jsonl"
    [pending] = rows(adj)
    assert pending["id"] == "p2" and pending["tied"] == ["gamma"]
    assert pending["votes"] == {"beta": {"yes": 2, "of": 2}, "gamma": {"yes": 1, "of": 2}}
    # a bad decision is an error naming the adjudication file, line and field
    adj.write_text(json.dumps(dict(pending, decision=["gama"])) + "\n", encoding="utf-8")
    code, _, err = run(capsys, export, "--taxonomy", tax, "--out", out)
    assert code == 2 and f"{adj.as_posix()}:1: field 'decision'" in err and "'gamma'" in err
    adj.write_text(json.dumps(dict(pending, decision=["gamma", "beta"])) + "\n", encoding="utf-8")
    code, stdout, _ = run(capsys, export, "--taxonomy", tax, "--out", out)
    assert code == 0 and counts(stdout) == (2, 2, 0, 0)
    assert "1 by adjudication" in stdout
    decided = {r["id"]: r for r in rows(out)}["p2"]
    assert decided["labels"] == ["beta", "gamma"] and decided["meta"]["decided_by"] == "adjudication"
    assert rows(adj)[0]["decision"] == ["beta", "gamma"]  # kept for the record


def test_same_annotator_twice_keeps_the_latest(tax: Path, tmp_path: Path, capsys) -> None:
    first = write(tmp_path / "monday.json", [task(1, [ann(1, {"id": 7, "email": "a@x.org"}, ["alpha"],
                                                            when="2026-01-05T09:00:00Z")])])
    later = write(tmp_path / "tuesday.json", [task(1, [ann(8, {"id": 7, "email": "a@x.org"}, ["beta"],
                                                            when="2026-01-06T09:00:00Z")])])
    code, stdout, err = run(capsys, later, first, "--taxonomy", tax, "--out", tmp_path / "l.jsonl")
    assert code == 0 and counts(stdout) == (1, 1, 0, 0)
    assert "1 older answer(s) replaced by the same annotator's latest" in err
    [row] = rows(tmp_path / "l.jsonl")
    assert row["labels"] == ["beta"] and row["meta"]["annotators"] == {"a@x.org": ["beta"]}
    assert row["meta"]["replaced_answers"] == 1


def test_min_annotators(tax: Path, tmp_path: Path, capsys) -> None:
    doc = [task(1, [ann(1, 1, ["alpha"]), ann(2, 2, ["alpha"])]), task(2, [ann(3, 1, ["beta"])])]
    code, stdout, _ = run(capsys, write(tmp_path / "e.json", doc), "--taxonomy", tax, "--out",
                          tmp_path / "l.jsonl", "--min-annotators", "2", "--on-error", "skip")
    assert code == 0 and counts(stdout) == (2, 1, 1, 0)
    [e] = rows(tmp_path / "l.errors.jsonl")
    assert "1 annotator(s) (1), fewer than --min-annotators 2" in e["message"]


def test_single_label_plurality_and_tie(tax: Path, tmp_path: Path, capsys) -> None:
    doc = [task(1, [ann(1, 1, ["beta"]), ann(2, 2, ["beta"]), ann(3, 3, ["gamma"])]),
           task(2, [ann(4, 1, ["alpha"]), ann(5, 2, ["beta"])]),
           task(3, [ann(6, 1, ["alpha", "beta"])])]
    code, stdout, _ = run(capsys, write(tmp_path / "e.json", doc), "--taxonomy", tax, "--out",
                          tmp_path / "l.jsonl", "--single-label", "--on-error", "skip")
    assert code == 0 and counts(stdout) == (3, 1, 1, 1)
    assert [r["labels"] for r in rows(tmp_path / "l.jsonl")] == [["beta"]]
    assert rows(tmp_path / "l.adjudication.jsonl")[0]["tied"] == ["alpha", "beta"]
    assert "a single-label task takes exactly one" in rows(tmp_path / "l.errors.jsonl")[0]["message"]
    report = json.loads((tmp_path / "l.agreement.json").read_text())
    assert report["overall"]["single_label"]["tasks"] == 2


def test_decide_rules() -> None:
    t = Taxonomy.from_ids(["a", "b"])
    assert decide({"x": ["a"]}, t).how == "single annotator"
    assert decide({"x": [], "y": [], "z": ["a"]}, t).labels == []
    assert decide({"x": ["a"], "y": []}, t).labels is None  # exactly half: a tie


# ----------------------------------------------------------------------------- agreement


def test_agreement_hand_checked() -> None:
    """2 annotators x 6 tasks x 2 labels, computed by hand:

    label a: x = 1 1 1 0 0 0, y = 1 1 0 0 0 1
      percent = 4/6; kappa: p_o = 4/6, p_e = .5*.5 + .5*.5 = .5 -> (2/3 - 1/2)/(1/2) = 1/3
      alpha (nominal, 12 pairable values, six 1s and six 0s; tasks 3 and 6 give o_01 = o_10 = 2):
        1 - (n-1) * (o_01 + o_10) / (2 * n_0 * n_1) = 1 - 11 * 4 / (2 * 6 * 6) = 28/72 = 7/18
    label b: x = 1 0 0 0 0 0, y = 1 1 0 0 0 0
      percent = 5/6; kappa: p_o = 5/6, p_e = 1/6*2/6 + 5/6*4/6 = 22/36 -> (8/36)/(14/36) = 4/7
      alpha: three 1s, nine 0s, task 2 disagrees (o_01 = o_10 = 1):
        1 - 11 * 2 / (2 * 3 * 9) = 1 - 22/54 = 16/27
    """
    xa, ya, xb, yb = [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]
    tasks = [{"x": [lab for lab, v in (("a", xa[i]), ("b", xb[i])) if v],
              "y": [lab for lab, v in (("a", ya[i]), ("b", yb[i])) if v]} for i in range(6)]
    a, b = agreement(tasks, ["a", "b"]).labels
    assert (a.tasks, a.positive_votes, b.positive_votes) == (6, 6, 3)
    assert a.percent_agreement == pytest.approx(4 / 6, abs=1e-6)
    assert a.cohen_kappa == pytest.approx(1 / 3, abs=1e-6)
    assert a.krippendorff_alpha == pytest.approx(7 / 18, abs=1e-6)
    assert b.percent_agreement == pytest.approx(5 / 6, abs=1e-6)
    assert b.cohen_kappa == pytest.approx(4 / 7, abs=1e-6)
    assert b.krippendorff_alpha == pytest.approx(16 / 27, abs=1e-6)


def test_agreement_undefined_values_say_why() -> None:
    three = [{"x": ["a"], "y": ["a"], "z": []}, {"x": [], "y": []}, {"x": ["a"]}]
    [row] = agreement(three, ["a"]).labels
    assert row.cohen_kappa is None and "exactly two annotators; 3 answered" in row.reasons["cohen_kappa"]
    assert row.tasks == 2 and row.krippendorff_alpha is not None
    [flat] = agreement([{"x": [], "y": []}, {"x": [], "y": []}], ["a"]).labels
    assert flat.cohen_kappa is None and flat.krippendorff_alpha is None
    assert "no variation" in flat.reasons["krippendorff_alpha"]
    assert flat.percent_agreement == 1.0


# ----------------------------------------------------------------------------- the output feeds framescope


def _toy_export(n: int = 36) -> list[dict]:
    """Two annotators who agree, on passages whose labels follow cue words."""
    import random

    rng = random.Random(3)
    out = []
    for i in range(1, n + 1):
        labs = [lab for lab in TOY_LABELS if rng.random() < 0.4]
        words = " ".join(TOY_WORDS[lab] for lab in labs) or "weather report today"
        out.append(task(i, [ann(2 * i, 1, labs), ann(2 * i + 1, 2, labs)],
                        text=f"Story {i}: the {words} item."))
    return out


def test_output_passes_data_validate_and_loads_labelled(tax: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "labelled.jsonl"
    code, _, _ = run(capsys, write(tmp_path / "e.json", _toy_export(12)), "--taxonomy", tax,
                     "--out", out)
    assert code == 0
    assert main(["data", "validate", str(out), "--taxonomy", str(tax)]) == 0
    assert "OK: 1 input(s) valid" in capsys.readouterr().out
    data = load_labelled([out])
    assert len(data.passages) == 12 and all(p.labels is not None for p in data.passages)
    assert data.passages[0].meta["n_annotators"] == 2


@pytest.mark.slow
def test_train_reads_the_output_unchanged(tax: Path, tiny_base: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "labelled.jsonl"
    code, _, _ = run(capsys, write(tmp_path / "e.json", _toy_export()), "--taxonomy", tax, "--out", out)
    assert code == 0
    code = main(["train", "--train", str(out), "--taxonomy", str(tax), "--base", str(tiny_base),
                 "--out", str(tmp_path / "model"), "--epochs", "1", "--max-length", "32",
                 "--batch-size", "8", "--min-dev-positives", "1", "-q"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "model" / "framescope.json").is_file()
