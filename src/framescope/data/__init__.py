"""The dataset module: the only code that reads, validates, splits or fingerprints data.

Training, evaluation and scoring all go through it.
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
from framescope.data.hf import label_matrix, to_hf_dataset, tokenize_dataset
from framescope.data.readers import FORMATS, ReadOptions, detect_format
from framescope.data.schema import Passage, parse_labels
from framescope.data.segment import approx_tokens, split_article, split_articles
from framescope.data.splits import DEFAULT_RATIOS, group_key, split_passages, write_splits
from framescope.data.taxonomy import DEFAULT_TAXONOMY, Label, Taxonomy, load_taxonomy

__all__ = [
    "DEFAULT_RATIOS", "DEFAULT_TAXONOMY", "FORMATS", "DataError", "ErrorLog", "Label",
    "LoadedData", "Passage", "ReadOptions", "ReadStats", "RecordError", "Taxonomy",
    "approx_tokens", "detect_format", "expand_inputs", "fingerprint", "group_key",
    "label_matrix", "load_passages", "load_taxonomy", "normalise_text", "parse_labels",
    "read_passages", "split_article", "split_articles", "split_passages", "to_hf_dataset",
    "tokenize_dataset", "validate_inputs", "write_splits",
]
