"""Mapping a dataset's labels onto a model's labels (``--labels-map``).

A labels map is a JSON or YAML mapping ``{data_label: model_label | null}``; ``null`` drops a
label. It lets a model be evaluated on data labelled with another, overlapping label set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from framescope.data.errors import DataError
from framescope.data.io import read_json_or_yaml
from framescope.data.schema import Passage

__all__ = ["apply_labels_map", "load_labels_map"]


def load_labels_map(path: str | Path) -> dict[str, str | None]:
    """Read a labels map.

    Raises:
        DataError: when the file is missing, does not parse or is not a flat mapping of strings.
    """
    path = Path(path)
    data = read_json_or_yaml(path, "labels map")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping of data labels to model labels, e.g. "
                        f'{{"Economic": "economic_cost", "Other": null}}; got {type(data).__name__}')
    out: dict[str, str | None] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str)):
            raise DataError(f"{path}: entry {key!r}: {value!r}: expected a data label (string) "
                            "mapped to a model label (string) or null (drop the label)")
        out[key] = value
    return out


def apply_labels_map(passages: Sequence[Passage], mapping: dict[str, str | None],
                     model_labels: Sequence[str], *, where: str = "labels map") -> dict[str, Any]:
    """Rename data labels in place with ``mapping``; labels mapped to ``None`` are dropped.

    Labels not in the map are kept as they are. Returns counts for the report.

    Raises:
        DataError: when a target is not a model label (naming it and the model's labels).
    """
    known = set(model_labels)
    bad = sorted({v for v in mapping.values() if v is not None and v not in known})
    if bad:
        raise DataError(f"{where}: target label(s) {bad} are not model labels; the model's labels "
                        f"({len(model_labels)}) are: {', '.join(model_labels)}")
    renamed = dropped = 0
    for p in passages:
        if not p.labels:
            continue
        new: list[str] = []
        for lab in p.labels:
            if lab in mapping:
                target = mapping[lab]
                if target is None:
                    dropped += 1
                    continue
                renamed += lab != target
                lab = target
            if lab not in new:
                new.append(lab)
        p.labels = new
    return {"entries": len(mapping), "renamed": renamed, "dropped": dropped,
            "map": dict(mapping)}
