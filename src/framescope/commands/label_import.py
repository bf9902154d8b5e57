"""``framescope label import``: annotation exports (Label Studio, Argilla, filled spreadsheet
sheets) -> labelled JSONL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from framescope.commands.common import positive_int

__all__ = ["cmd_import", "register_import"]

DESCRIPTION = """\
Read annotation exports of the batches `framescope label select` wrote and turn them into
labelled passages (JSONL in framescope's dataset schema, ready for `framescope train --train`).

Formats: Label Studio JSON, JSON-MIN and CSV exports; Argilla 2.x records
(dataset.records.to_json, to_list(flatten=True), to_datasets rows); and the spreadsheet sheet
`label select --out BATCH.csv` writes, with its "labels" column filled in (--format sheet,
detected from its header: text_sha1, labels and rank, no Label Studio annotation columns).
Model pre-annotations (Label Studio predictions, Argilla suggestions, the sheet's "predicted"
and p_<label> columns) are never read as labels.

Sheets: a "labels" cell holds label ids separated by ";" (or "," or "|"), or "none" (or "-")
for no frame; an EMPTY cell means "not labelled yet" and is an error, never "no frame". One
annotator per sheet, named after the file (ann1.csv -> ann1), so give each annotator their own
copy and import them together; an "annotator" column, when present, names the annotator per row.
Leave the other cells as they are: the ' put before formula-like texts is dropped on import
(text_sha1 tells), and a text edited since selection is an error.

Several annotators per task (merged by passage id across all the given files; an annotator's
latest answer counts): a label is in when more than half of the task's annotators chose it.
Exactly half is a tie: the task goes to the adjudication file with its votes instead of the
output; fill in its "decision" and run the same command again to apply it. Single-label
imports (--single-label) take the label most annotators chose. Agreement per label (percent,
Cohen's kappa for two annotators, Krippendorff's alpha for any number) goes to a JSON file and
a short table.

Bad tasks (unknown labels, missing or changed text, unlabelled, skipped or cancelled tasks,
empty sheet cells, tasks not in --batch) are errors naming the export file and line, the task
(or sheet row) and the field:
--on-error stop (default) writes nothing; skip writes them to an errors file and goes on.
"""

EPILOG = """\
examples:
  framescope label import export.json --taxonomy default --out labelled.jsonl
  framescope label import ann1.json ann2.json --taxonomy taxonomy.yaml --out labelled.jsonl \\
      --batch batch.json --min-annotators 2 --on-error skip
  framescope label import records.json --format argilla --taxonomy default --out labelled.jsonl
  # spreadsheets: one filled copy of the selected sheet per annotator
  framescope label select --model models/default feed.jsonl --n 50 --out sheet.csv
  framescope label import ann1.csv ann2.csv --taxonomy default --out labelled.jsonl \
      --batch sheet.csv
  # after filling in "decision" in labelled.adjudication.jsonl, run the same command again
  framescope train --from models/default --train labelled.jsonl --out models/next

beside OUT: OUT-stem.adjudication.jsonl (ties), OUT-stem.agreement.json, and with --on-error skip
OUT-stem.errors.jsonl.
"""


def register_import(label_subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import`` action to ``framescope label``'s subparsers."""
    from framescope.labelling.imports import EXPORT_FORMATS

    p = label_subparsers.add_parser(
        "import", help="read Label Studio / Argilla exports or filled sheets into labelled JSONL, "
             "with agreement",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exports", nargs="+", metavar="EXPORT",
                   help="export files, filled sheets or glob patterns (all merged by passage id)")
    p.add_argument("--taxonomy", required=True,
                   help="the label set: a YAML/JSON file or a bundled name such as 'default'")
    p.add_argument("--out", type=Path, required=True, help="the labelled JSONL to write")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="auto",
                   help="export format (default: detected from the suffix and the first record, or a "
                        "CSV's header: sheet or ls-csv)")
    p.add_argument("--on-error", choices=("stop", "skip"), default="stop",
                   help="stop: write nothing if a task is bad (default); skip: write bad tasks with "
                        "reasons to an errors file and go on")
    p.add_argument("--errors", type=Path, default=None,
                   help="errors file for --on-error skip (default: OUT-stem.errors.jsonl)")
    p.add_argument("--adjudication", type=Path, default=None, metavar="FILE",
                   help="ties are written here, and decisions filled in here are applied "
                        "(default: OUT-stem.adjudication.jsonl)")
    p.add_argument("--agreement", type=Path, default=None, metavar="FILE.json",
                   help="per-label agreement (default: OUT-stem.agreement.json)")
    p.add_argument("--min-annotators", type=positive_int, default=1, metavar="K",
                   help="reject tasks with fewer than K submitted answers (default 1)")
    p.add_argument("--batch", type=Path, default=None, metavar="SELECTED",
                   help="the batch `label select` wrote: every task must be in it with the same "
                        "text (also restores passage ids that JSON-MIN exports lose)")
    p.add_argument("--single-label", action="store_true",
                   help="one label per answer; the label most annotators chose wins")
    p.add_argument("--control", default="frames", metavar="NAME",
                   help="the Label Studio choices control / Argilla question holding the labels "
                        "(default: frames)")
    p.add_argument("-q", "--quiet", action="store_true", help="no agreement table")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    """Run ``framescope label import``; 0 on success, 2 on bad input (via :class:`DataError`)."""
    from framescope.data.taxonomy import load_taxonomy
    from framescope.labelling.agreement import format_agreement
    from framescope.labelling.consensus import ImportConfig, import_labels

    try:
        cfg = ImportConfig(
            taxonomy=load_taxonomy(args.taxonomy), format=args.format, on_error=args.on_error,
            errors_path=args.errors, adjudication_path=args.adjudication,
            agreement_path=args.agreement, min_annotators=args.min_annotators, batch=args.batch,
            single_label=args.single_label, control=args.control)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = import_labels(args.exports, args.out, cfg)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(result.summary())
    print(f"wrote {result.out} ({result.accepted} passages"
          + (f", {result.adjudicated} by adjudication" if result.adjudicated else "") + ")")
    if result.adjudication_path is not None:
        print(f"adjudication: {result.adjudication_path} ({result.awaiting} awaiting a decision)")
    if result.errors_path is not None:
        print(f"errors: {result.errors_path} ({result.rejected} rejected)")
    print(f"agreement: {result.agreement_path}")
    if not args.quiet:
        print(format_agreement(result.agreement))
    return 0
