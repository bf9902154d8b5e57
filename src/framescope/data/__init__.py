"""The dataset module: the only code that reads, validates, cuts, splits or fingerprints data.

Training, evaluation, scoring and reports all go through it.
"""

from __future__ import annotations

from framescope.data.dataset import (
    LoadedData,
    expand_inputs,
    load_passages,
    read_passages,
    validate_inputs,
)
from framescope.data.errors import DataError, ErrorLog, ReadStats, RecordError
from framescope.data.fingerprint import fingerprint, normalise_text
from framescope.data.formats import detect_format
from framescope.data.passages import approx_tokens, cut_article, cut_articles
from framescope.data.records import FORMATS, ReadOptions
from framescope.data.resources import bundled, bundled_dir
from framescope.data.schema import Passage, parse_labels
from framescope.data.splits import DEFAULT_RATIOS, group_key, split_passages, write_splits
from framescope.data.taxonomy import DEFAULT_TAXONOMY, Label, Taxonomy, label_matrix, load_taxonomy

__all__ = [
    "DEFAULT_RATIOS", "DEFAULT_TAXONOMY", "FORMATS", "DataError", "ErrorLog", "Label",
    "LoadedData", "Passage", "ReadOptions", "ReadStats", "RecordError", "Taxonomy",
    "approx_tokens", "bundled", "bundled_dir", "cut_article", "cut_articles", "detect_format",
    "expand_inputs", "fingerprint", "group_key", "label_matrix", "load_passages", "load_taxonomy",
    "normalise_text", "parse_labels", "read_passages", "split_passages", "validate_inputs",
    "write_splits",
]
