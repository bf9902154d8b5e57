"""``framescope label import``: annotation exports in, labelled passages out.

The steps:

1. **read** every export (:func:`framescope.labelling.imports.read_export`) and, with
   ``batch``, the batch ``label select`` wrote;
2. **merge** tasks across files by passage id (Label Studio JSON-MIN rows, which lose it, are
   matched by the sha1 of their text to the batch or to the other exports; filled copies of one
   spreadsheet sheet, one per annotator, merge like any export); an annotator who answered a
   task twice keeps their latest answer (``updated_at``/``created_at``, then the annotation
   id); two sheets with the same file name (the same annotator) are an error;
3. **check** each task: text present and unchanged (``text_sha1``, the batch), labels in the
   taxonomy, at least one submitted answer (not cancelled, not a draft), ``min_annotators``;
4. **decide** (:func:`framescope.labelling.adjudication.decide`): majority per label, ties to
   the adjudication file unless an adjudicator's ``decision`` is there;
5. **measure** agreement per label (:mod:`framescope.labelling.agreement`);
6. **write**, atomically: the labelled JSONL (framescope's dataset schema; provenance under
   ``meta``), the adjudication file, the agreement JSON; with ``on_error="skip"`` the rejected
   tasks go to the errors file. With ``on_error="stop"`` any bad task stops the run before
   anything is written.

``read = accepted + rejected + awaiting adjudication`` always holds; a file that cannot be read
at all counts as one rejected entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from framescope.data.dataset import expand_inputs
from framescope.data.errors import DataError, ErrorLog, RecordError
from framescope.data.io import atomic_path, atomic_write_text
from framescope.data.schema import RecordErrorException, record_to_passage
from framescope.data.taxonomy import Taxonomy
from framescope.labelling.adjudication import (
    HOW_TO_ADJUDICATE,
    AdjudicationEntry,
    Decision,
    decide,
    read_decisions,
    write_adjudication,
)
from framescope.labelling.agreement import AgreementReport, agreement
from framescope.labelling.batch import read_batch
from framescope.labelling.imports import CONTROL, EXPORT_FORMATS, ExportTask, Vote, read_export, text_sha1
from framescope.labelling.sheet_exports import stem_clashes

__all__ = ["ImportConfig", "ImportResult", "import_labels", "sibling_path"]

#: Passage fields copied from a task's data into the labelled output.
_PASSAGE_DATA = ("article_id", "title", "outlet", "published", "url", "start", "end")
#: Task data kept under ``meta.selection`` (how the passage was chosen).
_SELECTION = ("source", "record_id", "rank", "strategy")


def sibling_path(out: str | Path, suffix: str) -> Path:
    """``OUT-stem`` + ``suffix`` beside ``out`` (``labelled.jsonl`` -> ``labelled.agreement.json``).

    Example:
        >>> sibling_path("runs/labelled.jsonl", ".adjudication.jsonl").as_posix()
        'runs/labelled.adjudication.jsonl'
    """
    out = Path(out)
    return out.with_name(out.name.split(".")[0] + suffix)


@dataclass
class ImportConfig:
    """Settings of one import (the flags of ``framescope label import``).

    Attributes:
        taxonomy: the label set; every chosen label must be in it.
        format: one of :data:`~framescope.labelling.imports.EXPORT_FORMATS`.
        on_error: ``stop`` (a bad task stops the run, nothing written) or ``skip``.
        errors_path: the errors JSONL for ``skip`` (default ``OUT-stem.errors.jsonl``).
        adjudication_path: ties are written here, decisions read back from here (default
            ``OUT-stem.adjudication.jsonl``).
        agreement_path: the agreement JSON (default ``OUT-stem.agreement.json``).
        min_annotators: tasks with fewer submitted answers are rejected.
        batch: the file ``label select`` wrote; tasks must be in it with the same text.
        single_label: one label per answer, plurality vote.
        control: the choices control / question name holding the labels.
    """

    taxonomy: Taxonomy
    format: str = "auto"
    on_error: Literal["stop", "skip"] = "stop"
    errors_path: Path | None = None
    adjudication_path: Path | None = None
    agreement_path: Path | None = None
    min_annotators: int = 1
    batch: Path | None = None
    single_label: bool = False
    control: str = CONTROL

    def __post_init__(self) -> None:
        if self.format not in EXPORT_FORMATS:
            raise ValueError(f"The 'format' parameter must be one of {', '.join(EXPORT_FORMATS)}. "
                             f"Got {self.format!r} instead.")
        if self.on_error not in ("stop", "skip"):
            raise ValueError(f"The 'on_error' parameter must be 'stop' or 'skip'. Got {self.on_error!r} instead.")
        if isinstance(self.min_annotators, bool) or not isinstance(self.min_annotators, int) \
                or self.min_annotators < 1:
            raise ValueError(f"The 'min_annotators' parameter must be an integer >= 1. Got "
                             f"{self.min_annotators!r} instead.")


@dataclass
class ImportResult:
    """What an import read and wrote."""

    read: int
    accepted: int
    rejected: int
    awaiting: int
    adjudicated: int
    out: Path
    agreement_path: Path
    adjudication_path: Path | None
    errors_path: Path | None
    agreement: AgreementReport
    formats: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``read N tasks = accepted A + rejected R (+ T awaiting adjudication)``."""
        text = f"read {self.read} tasks = accepted {self.accepted} + rejected {self.rejected}"
        if self.awaiting:
            text += f" (+ {self.awaiting} awaiting adjudication)"
        return text


@dataclass
class _Task:
    """One passage merged across export files."""

    key: str
    passage_id: str | None
    parts: list[ExportTask]
    id_rebuilt: bool = False

    @property
    def first(self) -> ExportTask:
        return self.parts[0]

    def error(self, fld: str, message: str, hint: str, part: ExportTask | None = None) -> RecordError:
        part = part or self.first
        where = part.where
        if part.passage_id is None and self.passage_id:  # a JSON-MIN row, matched by its text
            where += f" (passage {self.passage_id})"
        return RecordError(part.source, part.line, fld, f"{where}: {message}", hint,
                           raw=json.dumps({"task_id": part.task_id, "passage_id": self.passage_id},
                                          ensure_ascii=False),
                           record_id=self.passage_id or part.task_id)


@dataclass
class _Judged:
    task: _Task
    passage: dict[str, Any]
    answers: dict[str, list[str]]
    decision: Decision


def _when(vote: Vote) -> tuple:
    stamp = 0.0
    if vote.when:
        try:
            stamp = datetime.fromisoformat(str(vote.when).replace("Z", "+00:00")).timestamp()
        except ValueError:
            stamp = 0.0
    aid = vote.annotation_id or ""
    return (stamp, int(aid) if aid.isdigit() else 0, aid)


def _latest_votes(task: _Task) -> tuple[dict[str, Vote], int]:
    """Each annotator's latest vote, and how many older ones were dropped (the same annotation
    read from two exports is one vote, not a replacement)."""
    by_who: dict[str, list[Vote]] = {}
    for part in task.parts:
        for vote in part.votes:
            same = by_who.setdefault(vote.annotator, [])
            if not any(v.annotation_id is not None and v.annotation_id == vote.annotation_id
                       and v.labels == vote.labels for v in same):
                same.append(vote)
    latest = {who: max(votes, key=_when) for who, votes in by_who.items()}
    return latest, sum(len(v) - 1 for v in by_who.values())


def _check_text(task: _Task, batch: dict[str, str] | None) -> RecordError | str:
    """The task's text, or the error about it."""
    first = task.first
    text = first.data.get("text")
    fld = first.field_of("text")
    if text is None:
        return task.error(fld, "no text", "import the tasks written by `framescope label select` "
                          "(their data carries 'text')")
    if not isinstance(text, str):
        return task.error(fld, f"expected the passage text as a string, got {type(text).__name__}",
                          "keep the task data as `label select` wrote it")
    if not text.strip():
        return task.error(fld, "empty text", "drop the task, or restore its text from the batch")
    for part in task.parts[1:]:
        if part.data.get("text") != text:
            return task.error(part.field_of("text"), f"the text differs from "
                              f"{first.source} {first.where}", "import exports of the same batch; "
                              "a passage's text must not change between tools", part)
    sha = text_sha1(text)
    for part in task.parts:
        want = part.data.get("text_sha1")
        if want is not None and want != sha:
            return task.error(part.field_of("text_sha1"), f"text_sha1 {want!r:.50} "
                              f"does not match the sha1 of the text ({sha}): the text was changed "
                              "after `label select` wrote the task", "restore the passage's "
                              "original text in the labelling tool (the labels may be for the "
                              "edited text), or drop the task", part)
    if batch is not None:
        if task.passage_id is None or task.passage_id not in batch:
            what = (f"passage {task.passage_id!r} is not in the batch" if task.passage_id
                    else "no passage of the batch has this text")
            return task.error(first.field_of("id"), what, "import only the export of that "
                              "batch, or pass the --batch file the tasks came from")
        if batch[task.passage_id] != text:
            return task.error(fld, f"the text differs from the selected passage "
                              f"{task.passage_id!r} in the batch", "restore the selected text, or "
                              "select the passage again")
    return text


def _check_votes(task: _Task, votes: dict[str, Vote], cfg: ImportConfig) -> RecordError | dict[str, list[str]]:
    """The counted answers (annotator -> labels), or the error about them."""
    for who, vote in votes.items():
        if vote.counts:
            # name the export (and row) that holds this vote, not the task's first one
            part = next((p for p in task.parts if any(v is vote for v in p.votes)), None)
            err = cfg.taxonomy.check(vote.labels or [], source=vote.source, line=vote.line)
            if err is not None:
                return task.error(vote.field, f"annotator {who}: {err.message}", "make the "
                                  "labelling config's choices (or the sheet's labels) the "
                                  "taxonomy's label ids, or pass the taxonomy the batch was made "
                                  "with (--taxonomy)", part)
            if cfg.single_label and len(vote.labels or []) != 1:
                return task.error(vote.field, f"annotator {who} chose {len(vote.labels or [])} "
                                  f"labels {vote.labels}; a single-label task takes exactly one",
                                  "use a single-choice control (one label per sheet cell), or "
                                  "import without --single-label", part)
    answers = {who: list(v.labels or []) for who, v in votes.items() if v.counts}
    if not answers:
        if not votes:
            return task.error(task.first.field_of("votes"), "no annotations: the task was not labelled",
                              "label it in the tool, or pass --on-error skip to leave it out")
        states = sorted({v.status for v in votes.values()})
        if states == ["cancelled"]:
            return task.error(next(iter(votes.values())).field, f"every annotation was cancelled "
                              f"(skipped by {', '.join(sorted(votes))}); a skip is not a label set",
                              "label it, or leave it out with --on-error skip")
        return task.error(next(iter(votes.values())).field, f"no submitted answer (only {', '.join(states)} ones, by "
                          f"{', '.join(sorted(votes))})", "submit the answers in the tool, or "
                          "leave the task out with --on-error skip")
    if len(answers) < cfg.min_annotators:
        return task.error(task.first.field_of("votes"), f"{len(answers)} annotator(s) ({', '.join(sorted(answers))}),"
                          f" fewer than --min-annotators {cfg.min_annotators}",
                          "collect more annotations, or lower --min-annotators")
    return answers


def _passage(task: _Task, text: str, labels: list[str], meta: dict[str, Any]) -> dict[str, Any] | RecordError:
    data = task.first.data
    raw: dict[str, Any] = {"id": task.passage_id, "text": text, "labels": labels, "meta": meta}
    for name in _PASSAGE_DATA:
        if data.get(name) is not None:
            raw[name] = data[name]
    if "article_id" not in raw and isinstance(data.get("record_id"), (str, int)):
        raw["article_id"] = str(data["record_id"])
    try:
        passage = record_to_passage(raw, source=task.first.source, line=task.first.line)
    except RecordErrorException as exc:
        e = exc.error
        return task.error(task.first.field_of(e.field), e.message, e.hint)
    return passage.to_dict()


def _merge(files: list, batch: dict[str, str] | None, notes: list[str]) -> list[_Task]:
    """Tasks merged by passage id; rows without one are matched by the sha1 of their text."""
    by_sha: dict[str, str | None] = {}

    def learn(pid: str, text: Any) -> None:
        if isinstance(text, str):
            sha = text_sha1(text)
            by_sha[sha] = pid if by_sha.get(sha, pid) == pid else None  # None: ambiguous

    for pid, text in (batch or {}).items():
        learn(pid, text)
    for f in files:
        for t in f.tasks:
            if t.passage_id is not None:
                learn(t.passage_id, t.data.get("text"))
    merged: dict[str, _Task] = {}
    rebuilt = 0
    for f in files:
        for t in f.tasks:
            pid, key, guessed = t.passage_id, t.passage_id, False
            if pid is None:
                text = t.data.get("text")
                sha = text_sha1(text) if isinstance(text, str) else None
                pid = by_sha.get(sha) if sha else None
                key = pid or (f"sha1:{sha}" if sha else f"task:{t.source}:{t.task_id}")
                if pid is None:
                    d = t.data
                    if d.get("record_id") is not None and d.get("start") is not None and d.get("end") is not None:
                        pid = f"{d['record_id']}:{d['start']}-{d['end']}"
                    else:
                        pid = f"{Path(t.source).stem}-task-{t.task_id}"
                    guessed = True
            task = merged.get(key)
            if task is None:
                merged[key] = task = _Task(key, pid, [], guessed)
                rebuilt += guessed
            task.parts.append(t)
    if rebuilt:
        notes.append(f"{rebuilt} task(s) from JSON-MIN exports carry no passage id (Label Studio "
                     "puts its task id in 'id' there); their ids were rebuilt as "
                     "RECORD_ID:START-END: pass --batch with the selected file to get the "
                     "selected ids back")
    return list(merged.values())


def _adjudication_row(j: _Judged, entry: AdjudicationEntry | None) -> dict[str, Any]:
    t = j.task
    return {
        "id": t.passage_id, "text": j.passage["text"], "text_sha1": text_sha1(j.passage["text"]),
        "decision": entry.decision if entry else None,
        "tied": j.decision.tied, "majority": j.decision.majority,
        "votes": {lab: {"yes": k, "of": j.decision.n} for lab, k in j.decision.votes.items()},
        "annotators": j.answers,
        "exports": sorted({p.source for p in t.parts}), "task_ids": [p.task_id for p in t.parts],
        "how": HOW_TO_ADJUDICATE,
    }


def import_labels(exports: Sequence[str | Path], out: str | Path, cfg: ImportConfig) -> ImportResult:
    """Read annotation exports, decide each task's labels and write the labelled JSONL.

    Args:
        exports: export files (or glob patterns) of Label Studio or Argilla, or filled
            ``label select`` sheets (CSV).
        out: the labelled JSONL to write (framescope's dataset schema, read by ``framescope
            train --train`` and ``framescope data validate`` unchanged).
        cfg: the import settings.

    Returns:
        An :class:`ImportResult` with the counts, paths and agreement.

    Raises:
        DataError: with ``on_error="stop"`` when any task is bad (nothing is written), when no
            task was read at all, or when the batch or adjudication file is broken.
        FileNotFoundError: when an export does not exist.

    Example:
        >>> from framescope.data import load_taxonomy
        >>> r = import_labels(["export.json"], "labelled.jsonl",
        ...                   ImportConfig(load_taxonomy("default")))  # doctest: +SKIP
        >>> print(r.summary())  # doctest: +SKIP
        read 8 tasks = accepted 5 + rejected 1 (+ 2 awaiting adjudication)
    """
    out = Path(out)
    adj_path = cfg.adjudication_path or sibling_path(out, ".adjudication.jsonl")
    agr_path = cfg.agreement_path or sibling_path(out, ".agreement.json")
    err_path = (cfg.errors_path or sibling_path(out, ".errors.jsonl")) if cfg.on_error == "skip" else None
    paths = expand_inputs(exports)
    files = [read_export(p, cfg.format, control=cfg.control) for p in paths]
    stem_clashes(files)  # two sheets named alike would be one annotator answering twice
    batch = read_batch(cfg.batch, control=cfg.control) if cfg.batch is not None else None
    decisions = read_decisions(adj_path, cfg.taxonomy, single_label=cfg.single_label)
    notes = [n for f in files for n in f.notes]
    tasks = _merge(files, batch, notes)

    errors: list[RecordError] = [e for f in files for e in f.errors]
    judged: list[_Judged] = []
    replaced = 0
    for task in tasks:
        problems = [p for part in task.parts for p in part.problems]
        if problems:
            errors.append(problems[0])
            continue
        text = _check_text(task, batch)
        if isinstance(text, RecordError):
            errors.append(text)
            continue
        votes, dropped = _latest_votes(task)
        answers = _check_votes(task, votes, cfg)
        if isinstance(answers, RecordError):
            errors.append(answers)
            continue
        decision = decide(answers, cfg.taxonomy, single_label=cfg.single_label)
        entry = decisions.get(task.passage_id or "")
        if entry is not None and entry.decision is not None:
            if entry.text_sha1 not in (None, text_sha1(text)):
                errors.append(task.error("decision", f"the adjudication at {adj_path}:{entry.line} "
                                         "was made for a different text", "adjudicate the task "
                                         "again (delete its line and re-run to get a fresh one)"))
                continue
            decision = Decision(entry.decision, decision.votes, decision.n, decision.tied,
                                decision.majority, how="adjudication")
        meta = {"annotators": answers, "n_annotators": len(answers), "votes": decision.votes,
                "decided_by": decision.how, "exports": sorted({p.source for p in task.parts}),
                "task_ids": [p.task_id for p in task.parts],
                "selection": {k: task.first.data[k] for k in _SELECTION if task.first.data.get(k) is not None}}
        if task.id_rebuilt:
            meta["id_rebuilt"] = True
        if dropped:
            meta["replaced_answers"] = dropped
            replaced += dropped
        passage = _passage(task, text, decision.labels or [], meta)
        if isinstance(passage, RecordError):
            errors.append(passage)
            continue
        judged.append(_Judged(task, passage, answers, decision))

    log = ErrorLog(errors_path=err_path)
    try:
        for e in errors:
            log.add(e)
    finally:
        log.close()
    if not tasks and not errors:
        raise DataError(f"no tasks in {', '.join(map(str, paths)) or 'the given exports'}: nothing "
                        "to import (export the project with its annotations)")
    if cfg.on_error == "stop":
        log.raise_if_fatal()
    if replaced:
        notes.append(f"{replaced} older answer(s) replaced by the same annotator's latest on the "
                     "same task (updated_at/created_at, then annotation id)")

    accepted = [j for j in judged if j.decision.labels is not None]
    ties = [j for j in judged if j.decision.labels is None]
    report = agreement([j.answers for j in judged], cfg.taxonomy.ids, single_label=cfg.single_label)
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for j in accepted:
            fh.write(json.dumps(j.passage, ensure_ascii=False) + "\n")
    adj_rows = [_adjudication_row(j, decisions.get(j.task.passage_id or ""))
                for j in judged if j.decision.how == "adjudication" or j.decision.labels is None]
    seen = {row["id"] for row in adj_rows}
    adj_rows += [e.row for pid, e in decisions.items() if pid not in seen]  # kept, not lost
    written_adj = None
    if adj_rows:
        write_adjudication(adj_path, adj_rows)
        written_adj = adj_path
    atomic_write_text(agr_path, json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n")
    return ImportResult(
        read=len(tasks) + sum(len(f.errors) for f in files), accepted=len(accepted),
        rejected=len(errors), awaiting=len(ties),
        adjudicated=sum(1 for j in accepted if j.decision.how == "adjudication"), out=out,
        agreement_path=agr_path, adjudication_path=written_adj,
        errors_path=err_path if errors else None, agreement=report,
        formats={f.path.as_posix(): f.format for f in files}, notes=notes)
