"""Bridges to Hugging Face ``datasets`` and tokenizers, used by training and scoring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope.data.schema import Passage
from framescope.data.taxonomy import Taxonomy

if TYPE_CHECKING:
    import datasets

__all__ = ["label_matrix", "to_hf_dataset", "tokenize_dataset"]


def label_matrix(passages: Sequence[Passage], taxonomy: Taxonomy) -> np.ndarray:
    """Multi-hot ``(n_passages, n_labels)`` float32 matrix; labels outside the taxonomy are ignored."""
    index = taxonomy.index
    y = np.zeros((len(passages), len(taxonomy)), dtype=np.float32)
    for i, p in enumerate(passages):
        for lab in p.labels or []:
            j = index.get(lab)
            if j is not None:
                y[i, j] = 1.0
    return y


def to_hf_dataset(passages: Sequence[Passage], taxonomy: Taxonomy, *,
                  single_label: bool = False) -> datasets.Dataset:
    """A ``datasets.Dataset`` with ``id``, ``text``, ``article_id`` and ``labels``.

    ``labels`` is a multi-hot float list, or a class index with ``single_label=True``
    (each passage must then carry exactly one label).
    """
    import datasets

    y = label_matrix(passages, taxonomy)
    cols: dict[str, Any] = {
        "id": [p.id for p in passages],
        "text": [p.text for p in passages],
        "article_id": [p.group for p in passages],
    }
    if single_label:
        bad = [p.id for p, row in zip(passages, y, strict=True) if row.sum() != 1]
        if bad:
            raise ValueError(f"--single-label needs exactly one label per passage; "
                             f"{len(bad)} passage(s) have none or several, e.g. {bad[:5]}")
        cols["labels"] = y.argmax(axis=1).astype(np.int64).tolist()
    else:
        cols["labels"] = y.tolist()
    return datasets.Dataset.from_dict(cols)


def tokenize_dataset(ds: datasets.Dataset, tokenizer: Any, max_length: int) -> datasets.Dataset:
    """Tokenise ``text`` without padding (batches are padded dynamically by the collator)."""

    def enc(batch: dict[str, list[Any]]) -> dict[str, Any]:
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    return ds.map(enc, batched=True, desc="tokenising")
