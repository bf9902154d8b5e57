"""The hand-off to Hugging Face ``datasets``: passages as a tokenised, Arrow-backed dataset.

Training (and the linear probe before it) reads its rows from a :class:`datasets.Dataset` built
here: the texts and labels become Arrow columns, the texts are tokenised with one batched
``map`` (no padding: batches are padded by :class:`Collator`) and the result is written to an
Arrow cache file keyed by the data's fingerprint, the tokenizer and the token budget, so the
token ids of a large corpus live memory-mapped on disk rather than as Python lists, and a second
run over the same data skips tokenisation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope.data.errors import DataError
from framescope.data.fingerprint import ordered_fingerprint
from framescope.data.io import cache_dir
from framescope.data.schema import Passage
from framescope.data.taxonomy import Taxonomy, label_matrix

if TYPE_CHECKING:
    import datasets

__all__ = ["TOKEN_FIELDS", "BagCollator", "Collator", "to_bags", "to_dataset"]

#: Tokenizer outputs the model reads.
TOKEN_FIELDS = ("input_ids", "attention_mask", "token_type_ids")


def _tokenizer_key(tokenizer: Any) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_dataset(
    passages: Sequence[Passage],
    taxonomy: Taxonomy,
    tokenizer: Any,
    max_length: int,
    *,
    single_label: bool = False,
    mask: np.ndarray | None = None,
    cache: Path | bool | None = True,
    progress: bool = False,
) -> datasets.Dataset:
    """A tokenised dataset of ``passages`` with columns ``input_ids``, ``attention_mask`` (and
    ``token_type_ids`` when the tokenizer makes them), ``length``, ``labels`` (multi-hot floats,
    or the class index with ``single_label``), ``row_index`` (the passage's position, so
    predictions can be put back in order) and, with ``mask``, ``label_mask``.

    ``cache``: ``True`` caches under :func:`cache_dir`, a path caches there, ``False``/``None``
    keeps everything in memory.

    Raises:
        DataError: with ``single_label`` when a passage has none or several labels.

    Example:
        >>> ds = to_dataset(passages, taxonomy, tokenizer, 128)  # doctest: +SKIP
        >>> ds.column_names  # doctest: +SKIP
        ['labels', 'row_index', 'input_ids', 'token_type_ids', 'attention_mask', 'length']
    """
    import datasets

    y = label_matrix(passages, taxonomy)
    if single_label:
        bad = [p.id for p, row in zip(passages, y) if row.sum() != 1]
        if bad:
            raise DataError(f"--single-label needs exactly one label per passage; {len(bad)} "
                            f"passage(s) have none or several, e.g. {bad[:5]}. Drop --single-label "
                            "for multi-label data.")
        labels: list[Any] = y.argmax(axis=1).astype(np.int64).tolist()
    else:
        labels = y.tolist()
    columns: dict[str, Any] = {"text": [p.text for p in passages], "labels": labels,
                               "row_index": list(range(len(passages)))}
    if mask is not None:
        columns["label_mask"] = np.asarray(mask, dtype=np.float32).tolist()
    raw = datasets.Dataset.from_dict(columns)

    def tokenize(batch: dict[str, list[Any]]) -> dict[str, Any]:
        enc = tokenizer(batch["text"], truncation=True, max_length=max_length)
        out = {k: enc[k] for k in TOKEN_FIELDS if k in enc}
        out["length"] = [len(ids) for ids in enc["input_ids"]]
        return out

    path = None
    if cache:
        folder = Path(cache) if isinstance(cache, (str, Path)) else cache_dir() / "datasets"
        folder.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(json.dumps([
            ordered_fingerprint(passages), taxonomy.ids, _tokenizer_key(tokenizer), max_length,
            single_label,
            None if mask is None else hashlib.sha256(np.ascontiguousarray(mask, dtype=np.float32)).hexdigest(),
        ]).encode()).hexdigest()[:24]
        path = folder / f"tokenized-{key}.arrow"
        if path.exists():
            try:
                return datasets.Dataset.from_file(str(path))
            except Exception:  # a damaged cache file is rebuilt, never trusted
                path.unlink(missing_ok=True)
    if not progress:
        datasets.disable_progress_bars()
    try:
        return raw.map(tokenize, batched=True, batch_size=1000, remove_columns=["text"],
                       cache_file_name=str(path) if path else None, desc="tokenising",
                       keep_in_memory=path is None)
    finally:
        if not progress:
            datasets.enable_progress_bars()


class Collator:
    """Dynamic padding of the token fields; labels, row indices (and label masks) as tensors.

    Args:
        tokenizer: pads ``input_ids``/``attention_mask``/``token_type_ids`` to the batch's longest.
        single_label: labels are class indices (``long``) instead of multi-hot floats.
    """

    def __init__(self, tokenizer: Any, single_label: bool) -> None:
        self.tokenizer = tokenizer
        self.single_label = single_label

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        keys = [k for k in TOKEN_FIELDS if k in features[0]]
        batch = self.tokenizer.pad([{k: f[k] for k in keys} for f in features], padding=True,
                                   return_tensors="pt")
        dtype = torch.long if self.single_label else torch.float32
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=dtype)
        batch["row_index"] = torch.tensor([f["row_index"] for f in features], dtype=torch.long)
        if "label_mask" in features[0]:
            batch["label_mask"] = torch.tensor([f["label_mask"] for f in features], dtype=torch.float32)
        return dict(batch)


def to_bags(pieces: datasets.Dataset, owner: np.ndarray, y: np.ndarray,
            mask: np.ndarray | None = None) -> datasets.Dataset:
    """A dataset of bags (records) over a passage dataset ``pieces`` from :func:`to_dataset`.

    Row ``r`` is record ``r``: ``pieces`` (the row numbers of its passages in ``pieces``),
    ``labels`` (the record's multi-hot labels ``y[r]``), ``row_index`` (``r``), ``length`` (its
    passages' token count in all, for length-grouped batches) and, with ``mask``, ``label_mask``.
    Records without passages are left out.

    Example:
        >>> bags = to_bags(piece_ds, pieces.owner, label_matrix(records, taxonomy))  # doctest: +SKIP
        >>> bags[0]["pieces"]  # doctest: +SKIP
        [0, 1, 2]
    """
    import datasets

    owner = np.asarray(owner, dtype=np.int64)
    if len(owner) != len(pieces):
        raise ValueError(f"owner has {len(owner)} entries for {len(pieces)} passages")
    lengths = np.asarray(pieces["length"], dtype=np.int64)
    members: list[list[int]] = [[] for _ in range(len(y))]
    for i, r in enumerate(owner.tolist()):
        members[r].append(i)
    keep = [r for r, m in enumerate(members) if m]
    columns: dict[str, Any] = {
        "pieces": [members[r] for r in keep],
        "labels": np.asarray(y, dtype=np.float32)[keep].tolist(),
        "row_index": keep,
        "length": [int(lengths[members[r]].sum()) for r in keep],
    }
    if mask is not None:
        columns["label_mask"] = np.asarray(mask, dtype=np.float32)[keep].tolist()
    return datasets.Dataset.from_dict(columns)


class BagCollator:
    """Batches of bags: every passage of the batch's records padded together, with ``bag`` (the
    position of each passage's record in the batch), the records' ``labels``, ``row_index`` and,
    when present, ``label_mask``.

    Passage rows (no ``pieces`` column: the dev and test sets, scored passage by passage) are
    collated as :class:`Collator` does.

    Args:
        pieces: the passage dataset the bags point into (:func:`to_dataset`).
        tokenizer: pads the token fields to the batch's longest passage.
    """

    def __init__(self, pieces: datasets.Dataset, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.keys = [k for k in TOKEN_FIELDS if k in pieces.column_names]
        self.tokens = pieces.select_columns(self.keys)
        self.plain = Collator(tokenizer, single_label=False)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        if "pieces" not in features[0]:  # passage rows (dev and test evaluation)
            return self.plain(features)
        rows = [i for f in features for i in f["pieces"]]
        bag = [b for b, f in enumerate(features) for _ in f["pieces"]]
        got = self.tokens[rows]
        batch = self.tokenizer.pad([{k: got[k][j] for k in self.keys} for j in range(len(rows))],
                                   padding=True, return_tensors="pt")
        batch["bag"] = torch.tensor(bag, dtype=torch.long)
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.float32)
        batch["row_index"] = torch.tensor([f["row_index"] for f in features], dtype=torch.long)
        if "label_mask" in features[0]:
            batch["label_mask"] = torch.tensor([f["label_mask"] for f in features], dtype=torch.float32)
        return dict(batch)
