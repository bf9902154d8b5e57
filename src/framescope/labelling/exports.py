"""Writing a labelling batch: Label Studio tasks (+ labelling config XML), Argilla 2.x records
(+ dataset settings JSON) or a plain CSV for spreadsheets.

Every selected passage carries the same task data, the contract ``framescope label import``
relies on (:data:`TASK_FIELDS`): ``id`` (unique passage id; ``passage_id`` repeats it, since
Label Studio's JSON-MIN and CSV exports overwrite ``id``), ``text``, ``text_sha1`` (sha1 hex of
the exact text, UTF-8), ``source`` (input file name), ``record_id``, ``start``, ``end``,
``article_id``/``title``/``url`` when known, ``rank`` (1 = picked first) and ``strategy``, plus
``scores`` (``{label: probability}``) in Label Studio data.

Shapes:

- **Label Studio** (``.json``): a list of ``{"data": {...}, "predictions": [{"model_version",
  "score", "result": [{"from_name": "frames", "to_name": "text", "type": "choices", "value":
  {"choices": [...]}}]}]}``; ``score`` is the passage's confidence (distance to the decision
  boundary, :func:`framescope.labelling.strategies.uncertainty`: 0 = on a threshold, 1 = sure);
  ``result`` is empty when the model predicts no label. Beside it, ``BATCH.label-config.xml``.
- **Argilla 2.x** (``.jsonl``): one record a line in the shape of ``rg.Record.to_dict()`` /
  ``rg.Record.from_dict()`` (Argilla 2.x ``argilla/records/_resource.py``): ``{"id", "fields":
  {"text"}, "metadata", "suggestions": {"frames": {"value", "score", "agent"}}, "responses": {},
  "vectors": {}}``; multi-label suggestions hold lists (labels and their probabilities),
  single-label ones a label and its probability; a record whose model predicts no label has no
  suggestion (Argilla rejects an empty multi-label value). Beside it,
  ``BATCH.argilla-settings.json`` (fields, questions, metadata properties, guidelines).
- **CSV** (``.csv``): id, text, text_sha1, source, record_id, start, end, rank, strategy,
  predicted (``"; "``-joined), ``p_<label>`` per label, and an empty ``labels`` column for
  annotators. Text cells that a spreadsheet would run as a formula get a leading ``'``
  (:func:`framescope.reports.analyst.csv_safe`), so ``text_sha1`` (of the original text) is the
  way to check such a cell. Filled copies (``a; b``, ``none`` for no frame) go back through
  ``framescope label import`` (:mod:`framescope.labelling.sheet_exports`).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.data.io import atomic_write_text
from framescope.data.taxonomy import Taxonomy
from framescope.reports.analyst import csv_safe

__all__ = [
    "CHOICES_NAME",
    "FORMAT_SUFFIXES",
    "QUESTION_NAME",
    "TASK_FIELDS",
    "TEXT_NAME",
    "Pick",
    "argilla_records",
    "argilla_settings",
    "batch_paths",
    "csv_table",
    "label_config_xml",
    "label_studio_tasks",
    "output_format",
    "write_batch",
]

#: Output formats and the suffix that selects each.
FORMAT_SUFFIXES = {"ls": ".json", "argilla": ".jsonl", "csv": ".csv"}
#: The Label Studio control and object names (the import side reads these).
CHOICES_NAME = "frames"
TEXT_NAME = "text"
#: The Argilla question name.
QUESTION_NAME = "frames"
#: Task-data fields every selected passage carries, in this order (optional ones when known).
TASK_FIELDS = ("id", "passage_id", "text", "text_sha1", "source", "record_id", "start", "end", "article_id",
               "title", "url", "rank", "strategy")
_CSV_FIELDS = ("id", "text", "text_sha1", "source", "record_id", "start", "end", "rank", "strategy")
_ARGILLA_METADATA = ("text_sha1", "source", "record_id", "start", "end", "rank", "strategy")


@dataclass
class Pick:
    """One selected passage as written.

    Attributes:
        data: the task data (:data:`TASK_FIELDS`, optional ones only when known) and ``scores``
            (``{label: probability}``, rounded as ``framescope score`` writes them).
        predicted: the labels the model predicts (over threshold, or the argmax).
        confidence: distance to the decision boundary, 0 (on a threshold) to 1 (sure).
    """

    data: dict[str, Any]
    predicted: list[str]
    confidence: float


def output_format(path: str | Path, fmt: str | None = None) -> str:
    """The batch format: ``fmt`` when given, else from the suffix (``.json`` Label Studio,
    ``.jsonl`` Argilla, ``.csv`` CSV).

    Raises:
        ValueError: an unknown format or suffix.

    Example:
        >>> output_format("batch.jsonl")
        'argilla'
    """
    if fmt is not None:
        if fmt not in FORMAT_SUFFIXES:
            raise ValueError(f"The output format must be one of {', '.join(FORMAT_SUFFIXES)}. "
                             f"Got {fmt!r} instead.")
        return fmt
    suffix = Path(path).suffix.lower()
    for name, known in FORMAT_SUFFIXES.items():
        if suffix == known:
            return name
    raise ValueError(f"cannot tell the batch format of {path} from its suffix {suffix!r}: use .json "
                     f"(Label Studio tasks), .jsonl (Argilla records) or .csv, or pass --out-format")


def batch_paths(out: str | Path, fmt: str) -> dict[str, Path]:
    """Every file a batch writes: ``batch``, plus ``config`` (Label Studio XML) or ``settings``
    (Argilla JSON) beside it, named after the batch's stem.

    Example:
        >>> sorted(batch_paths("b/next.json", "ls").items())[1]
        ('config', PosixPath('b/next.label-config.xml'))
    """
    out = Path(out)
    paths = {"batch": out}
    if fmt == "ls":
        paths["config"] = out.with_name(out.stem + ".label-config.xml")
    elif fmt == "argilla":
        paths["settings"] = out.with_name(out.stem + ".argilla-settings.json")
    return paths


def _header(taxonomy: Taxonomy, single_label: bool) -> str:
    name = taxonomy.name or taxonomy.id
    ask = ("Choose the one label that fits this passage." if single_label else
           "Choose every frame this passage uses (none if it uses none).")
    return f"{name}: {ask}"


def label_config_xml(taxonomy: Taxonomy, *, single_label: bool = False) -> str:
    """The Label Studio labelling config for a taxonomy: a header, the passage text and one
    ``Choices`` (``multiple``, or ``single`` for single-label models) with every label id as
    a choice value and its definition (or display name) as the hint. Every value is escaped
    by ElementTree.

    Example:
        >>> from framescope.data import Taxonomy
        >>> print(label_config_xml(Taxonomy.from_ids(["a"])).splitlines()[3])
          <Choices name="frames" toName="text" choice="multiple" showInLine="false">
    """
    view = ET.Element("View")
    ET.SubElement(view, "Header", value=_header(taxonomy, single_label))
    ET.SubElement(view, "Text", name=TEXT_NAME, value=f"${TEXT_NAME}")
    choices = ET.SubElement(view, "Choices", name=CHOICES_NAME, toName=TEXT_NAME,
                            choice="single" if single_label else "multiple", showInLine="false")
    for label in taxonomy.labels:
        ET.SubElement(choices, "Choice", value=label.id, hint=label.description or label.name)
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"


def label_studio_tasks(picks: Sequence[Pick], model_version: str) -> list[dict[str, Any]]:
    """Label Studio tasks with the model's predictions as pre-annotations."""
    tasks = []
    for pick in picks:
        result = []
        if pick.predicted:
            result.append({"from_name": CHOICES_NAME, "to_name": TEXT_NAME, "type": "choices",
                           "value": {"choices": list(pick.predicted)}})
        tasks.append({"data": dict(pick.data),
                      "predictions": [{"model_version": model_version, "score": pick.confidence,
                                       "result": result}]})
    return tasks


def argilla_records(picks: Sequence[Pick], model_version: str, *,
                    single_label: bool = False) -> list[dict[str, Any]]:
    """Argilla 2.x records (``rg.Record.from_dict`` shape) with the model's suggestions."""
    records = []
    for pick in picks:
        data = pick.data
        metadata = {k: data[k] for k in _ARGILLA_METADATA if data.get(k) is not None}
        metadata["confidence"] = pick.confidence
        suggestions: dict[str, Any] = {}
        if pick.predicted:
            scores = [float(data["scores"][lab]) for lab in pick.predicted]
            suggestions[QUESTION_NAME] = {
                "value": pick.predicted[0] if single_label else list(pick.predicted),
                "score": scores[0] if single_label else scores,
                "agent": model_version,
            }
        records.append({"id": data["id"], "fields": {"text": data["text"]}, "metadata": metadata,
                        "suggestions": suggestions, "responses": {}, "vectors": {}})
    return records


def argilla_settings(taxonomy: Taxonomy, *, single_label: bool = False) -> dict[str, Any]:
    """The Argilla dataset settings a batch needs: the text field, the ``frames`` question
    (``multi_label_selection``, or ``label_selection`` for single-label models), metadata
    properties and guidelines built from the taxonomy's definitions."""
    lines = [_header(taxonomy, single_label), ""]
    lines += [f"- {lab.id}: {lab.description or lab.name}" for lab in taxonomy.labels]
    return {
        "guidelines": "\n".join(lines),
        "fields": [{"name": "text", "type": "text", "title": "Passage", "required": True}],
        "questions": [{
            "name": QUESTION_NAME,
            "type": "label_selection" if single_label else "multi_label_selection",
            "title": "Frames" if not single_label else "Label",
            "labels": list(taxonomy.ids),
            "label_descriptions": {lab.id: lab.description or lab.name for lab in taxonomy.labels},
            "required": single_label,  # "no frame" is a valid multi-label answer
        }],
        "metadata": [
            {"name": "source", "type": "terms"},
            {"name": "strategy", "type": "terms"},
            {"name": "rank", "type": "integer"},
            {"name": "confidence", "type": "float"},
        ],
        "allow_extra_metadata": True,
    }


def csv_table(picks: Sequence[Pick], labels: Sequence[str]) -> str:
    """The CSV text of a batch (header, one row per passage, formula-safe text cells)."""
    columns = [*_CSV_FIELDS, "predicted", *(f"p_{lab}" for lab in labels), "labels"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for pick in picks:
        row: list[Any] = [pick.data.get(k) for k in _CSV_FIELDS]
        row.append("; ".join(pick.predicted))
        row.extend(pick.data["scores"][lab] for lab in labels)
        row.append("")
        writer.writerow(["" if v is None else csv_safe(v) for v in row])
    return buf.getvalue()


def write_batch(picks: Sequence[Pick], out: str | Path, fmt: str, *, taxonomy: Taxonomy,
                model_version: str, single_label: bool = False) -> dict[str, Path]:
    """Write a batch and its companion file atomically (companion first, batch last, so a batch
    on disk always has its config beside it). Returns :func:`batch_paths`."""
    paths = batch_paths(out, fmt)
    if fmt == "ls":
        atomic_write_text(paths["config"], label_config_xml(taxonomy, single_label=single_label))
        tasks = label_studio_tasks(picks, model_version)
        atomic_write_text(paths["batch"], json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "argilla":
        settings = argilla_settings(taxonomy, single_label=single_label)
        atomic_write_text(paths["settings"], json.dumps(settings, ensure_ascii=False, indent=1) + "\n")
        records = argilla_records(picks, model_version, single_label=single_label)
        atomic_write_text(paths["batch"], "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                  for r in records))
    elif fmt == "csv":
        atomic_write_text(paths["batch"], csv_table(picks, taxonomy.ids))
    else:
        raise ValueError(f"The output format must be one of {', '.join(FORMAT_SUFFIXES)}. Got {fmt!r} instead.")
    return paths
