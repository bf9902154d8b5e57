"""Reader of Argilla 2.x record exports.

Shapes read (``tests/fixtures/argilla/`` holds them as the argilla 2.8 SDK writes them, made
offline by ``make_fixtures.py``):

* ``dataset.records.to_json(PATH)`` and ``Dataset.to_disk`` (``records.json``): a JSON list of
  ``{"id", "fields": {"text"}, "metadata": {...}, "suggestions": {...}, "responses":
  {"frames": [{"value": [...], "user_id"}]}, "vectors", "status", "_server_id"}``. This
  exporter drops each response's status: drafts and discarded answers that kept a value look
  submitted (counted, with a note).
* ``dataset.records.to_list(flatten=True)`` / ``to_datasets()`` rows (JSON list or JSON Lines):
  fields and metadata at the top level, ``frames.responses`` (values),
  ``frames.responses.users`` and ``frames.responses.status``.
* the API's shapes: ``responses`` as a list of ``{"question_name", "value", "user_id",
  "status"}`` (``Response.serialize``) or of ``{"values": {"frames": {"value"}}, "user_id",
  "status"}`` (a user's response).

Only ``submitted`` responses (and those of unknown status) are votes; suggestions are never read.
"""

from __future__ import annotations

import json
from typing import Any

from framescope.data.errors import RecordError
from framescope.labelling.votes import COUNTED, ExportFile, ExportTask, Vote, items, label_list, str_id

__all__ = ["read_argilla"]

_ARGILLA_KEYS = {"id", "status", "_server_id", "fields", "metadata", "suggestions", "responses",
                 "vectors", "score"}


def _argilla_responses(rec: dict[str, Any], control: str) -> list[dict[str, Any]] | str:
    """``[{"value", "user_id", "status"}]`` from any Argilla record shape, or a message."""
    flat = f"{control}.responses"
    if flat in rec:
        values = rec.get(flat) or []
        users = rec.get(f"{flat}.users") or []
        status = rec.get(f"{flat}.status")
        if not isinstance(values, list) or not isinstance(users, list) or len(values) != len(users):
            return (f"'{flat}' and '{flat}.users' must be lists of the same length, got "
                    f"{json.dumps(values, default=str)[:40]} and {json.dumps(users, default=str)[:40]}")
        if status is not None and (not isinstance(status, list) or len(status) != len(values)):
            return f"'{flat}.status' must be a list as long as '{flat}'"
        return [{"value": v, "user_id": u, "status": status[k] if status else None,
                 "field": f"{flat}[{k}]"} for k, (v, u) in enumerate(zip(values, users))]
    responses = rec.get("responses")
    if responses is None:
        return []
    if isinstance(responses, dict):
        items = responses.get(control) or []
        if not isinstance(items, list):
            return f"responses.{control}: expected a list, got {type(items).__name__}"
        return [dict(r, field=f"responses.{control}[{k}]") if isinstance(r, dict) else
                {"bad": r, "field": f"responses.{control}[{k}]"} for k, r in enumerate(items)]
    if isinstance(responses, list):
        out = []
        for k, r in enumerate(responses):
            where = f"responses[{k}]"
            if not isinstance(r, dict):
                out.append({"bad": r, "field": where})
            elif isinstance(r.get("values"), dict):  # the API's user response
                if control in r["values"]:
                    v = r["values"][control]
                    out.append({"value": v.get("value") if isinstance(v, dict) else v,
                                "user_id": r.get("user_id"), "status": r.get("status"),
                                "field": f"{where}.values.{control}"})
            elif r.get("question_name") == control:
                out.append(dict(r, field=where))
        return out
    return f"responses: expected an object or a list, got {type(responses).__name__}"


def read_argilla(doc: Any, out: ExportFile, control: str) -> None:
    source = out.path.as_posix()
    unknown_status = 0
    for n, rec in items(doc):
        if not isinstance(rec, dict):
            out.errors.append(RecordError(source, n, "<record>", f"item {n}: expected a record "
                                          f"object, got {type(rec).__name__}", "export again"))
            continue
        tid = str_id(rec.get("id")) or str_id(rec.get("_server_id")) or f"#{n}"
        nested = isinstance(rec.get("fields"), dict)
        if nested:
            meta = rec.get("metadata") if isinstance(rec.get("metadata"), dict) else {}
            data = {**meta, "text": rec["fields"].get("text")}
            fields = {"*": "metadata.", "text": "fields.text", "id": "id", "votes": "responses"}
        else:
            data = {k: v for k, v in rec.items() if k not in _ARGILLA_KEYS and "." not in k}
            data["id"] = rec.get("id")
            fields = {"*": "", "votes": f"{control}.responses"}
        pid = str_id(data.get("passage_id")) or str_id(data.get("id")) or str_id(rec.get("id"))
        et = ExportTask(tid, pid, data, [], source, n, "argilla", fields)
        out.tasks.append(et)
        got = _argilla_responses(rec, control)
        if isinstance(got, str):
            et.problems.append(RecordError(source, n, "responses", f"record {tid}: {got}",
                                           "export with dataset.records.to_json(PATH)", record_id=tid))
            continue
        for r in got:
            where = r["field"]
            if "bad" in r:
                et.problems.append(RecordError(source, n, where, f"record {tid}: expected a response "
                                               f"object, got {r['bad']!r:.40}", "export again",
                                               record_id=tid))
                continue
            who = str_id(r.get("user_id")) or f"response-{where}"
            status = r.get("status")
            status = status.get("value") if isinstance(status, dict) else status
            if status is None:
                status = "unknown"
                unknown_status += 1
            value = r.get("value")
            if status not in COUNTED:
                et.votes.append(Vote(who, None, str(status), None, None, where, source, n))
                continue
            labels: list[str] | str = [value] if isinstance(value, str) else label_list(value, where)
            if isinstance(labels, str):
                et.problems.append(RecordError(source, n, where, f"record {tid}, user {who}: {labels}",
                                               f"answer the '{control}' question with labels",
                                               record_id=tid))
                continue
            et.votes.append(Vote(who, labels, status, None, None, where, source, n))
    if unknown_status:
        out.notes.append(
            f"{source}: {unknown_status} response(s) without a status (Argilla's records.to_json "
            "and to_disk drop it), counted as submitted; drafts cannot be told apart there. To count "
            "only submitted answers, export with dataset.records.to_list(flatten=True) or "
            "to_datasets(), which keep 'frames.responses.status'")
