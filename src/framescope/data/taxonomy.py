"""Label sets: ordered label ids with display names and definitions (YAML or JSON files)."""

from __future__ import annotations

import difflib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope.data.errors import DataError, RecordError
from framescope.data.io import read_json_or_yaml
from framescope.data.resources import bundled

if TYPE_CHECKING:
    from framescope.data.schema import Passage

__all__ = ["DEFAULT_TAXONOMY", "Label", "Taxonomy", "label_matrix", "load_taxonomy", "taxonomy_path"]

logger = logging.getLogger(__name__)

#: The default taxonomy shipped with the project (ten Russia–Ukraine war frames).
DEFAULT_TAXONOMY = bundled("taxonomies", "war-frames.yaml")
#: Names of the bundled taxonomies accepted wherever a taxonomy file is.
BUNDLED_TAXONOMIES = {"default": "war-frames", "war-frames": "war-frames",
                      "policy-frames": "policy-frames", "persuasion-techniques": "persuasion-techniques"}


@dataclass
class Label:
    """One label: its id as it appears in data, a display name and a definition."""

    id: str
    name: str = ""
    description: str = ""
    cues: list[str] = field(default_factory=list)
    excludes: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            self.name = self.id.replace("_", " ").capitalize()


@dataclass
class Taxonomy:
    """An ordered label set. The order defines the model's output columns.

    Example:
        >>> tax = Taxonomy.from_ids(["a", "b"])
        >>> tax.ids
        ['a', 'b']
    """

    labels: list[Label]
    id: str = "custom"
    name: str = ""
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for lab in self.labels:
            if lab.id in seen:
                raise DataError(f"taxonomy '{self.id}': label id {lab.id!r} appears twice")
            seen.add(lab.id)
        if not self.labels:
            raise DataError(f"taxonomy '{self.id}' has no labels")

    @property
    def ids(self) -> list[str]:
        return [lab.id for lab in self.labels]

    @property
    def index(self) -> dict[str, int]:
        return {lab.id: i for i, lab in enumerate(self.labels)}

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label_id: object) -> bool:
        return label_id in self.index

    def get(self, label_id: str) -> Label:
        return self.labels[self.index[label_id]]

    def check(self, labels: Iterable[str], *, source: str, line: int) -> RecordError | None:
        """Return an error for the first label not in this taxonomy, else ``None``."""
        known = self.index
        for lab in labels:
            if lab not in known:
                close = difflib.get_close_matches(lab, list(known), n=1)
                guess = f" Did you mean {close[0]!r}?" if close else ""
                return RecordError(
                    source, line, "labels",
                    f"unknown label {lab!r}; known labels ({len(known)}): {', '.join(known)}.{guess}",
                    "fix the label, add it to the taxonomy file, or pass --taxonomy infer",
                )
        return None

    def extended(self, new_ids: Iterable[str]) -> Taxonomy:
        """A copy with ``new_ids`` appended (in order) where not already present."""
        labels = [Label(**asdict(lab)) for lab in self.labels]
        for lab in new_ids:
            if lab not in self.index and all(lab != x.id for x in labels):
                labels.append(Label(id=lab))
        return Taxonomy(labels, id=self.id, name=self.name, description=self.description,
                        source=self.source)

    def subset(self, keep: Iterable[str]) -> Taxonomy:
        """A copy that keeps only ``keep`` (in this taxonomy's order)."""
        wanted = set(keep)
        missing = wanted - set(self.ids)
        if missing:
            raise DataError(f"labels {sorted(missing)} are not in taxonomy '{self.id}' ({self.ids})")
        return Taxonomy([Label(**asdict(lab)) for lab in self.labels if lab.id in wanted],
                        id=self.id, name=self.name, description=self.description, source=self.source)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description,
                "source": self.source, "labels": [asdict(lab) for lab in self.labels]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "taxonomy") -> Taxonomy:
        if not isinstance(data, dict) or not isinstance(data.get("labels"), list):
            raise DataError(f"{where}: expected a mapping with a 'labels' list "
                            "(each item an id string or a mapping with 'id', 'name', 'description')")
        labels: list[Label] = []
        for i, item in enumerate(data["labels"], 1):
            if isinstance(item, str):
                labels.append(Label(id=item))
            elif isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
                known = {k: item[k] for k in ("id", "name", "description", "cues", "excludes")
                         if k in item and item[k] is not None}
                if "cues" in known and not isinstance(known["cues"], list):
                    raise DataError(f"{where}: label {i} ('{item['id']}'): 'cues' must be a list")
                for key in ("name", "description", "excludes"):
                    if key in known:
                        known[key] = str(known[key]).strip()
                labels.append(Label(**known))
            else:
                raise DataError(f"{where}: label {i}: expected an id string or a mapping with "
                                f"a non-empty 'id', got {item!r:.80}")
        return cls(labels, id=str(data.get("id") or Path(where).stem),
                   name=str(data.get("name") or ""), description=str(data.get("description") or "").strip(),
                   source=str(data.get("source") or ""))

    @classmethod
    def from_ids(cls, ids: Iterable[str], *, id: str = "custom") -> Taxonomy:
        return cls([Label(id=x) for x in ids], id=id)

    @classmethod
    def infer(cls, label_lists: Iterable[list[str] | None], *, id: str = "inferred") -> Taxonomy:
        """Build a taxonomy from the labels seen in data (sorted), with a warning."""
        counts: Counter[str] = Counter()
        for labels in label_lists:
            counts.update(labels or [])
        if not counts:
            raise DataError("cannot infer a taxonomy: the data has no labels")
        ids = sorted(counts)
        logger.warning("no taxonomy given: inferred %d labels from the data (%s); "
                       "pass --taxonomy FILE to fix their order and add definitions",
                       len(ids), ", ".join(ids))
        return cls.from_ids(ids, id=id)

    def save(self, path: Path) -> None:
        from framescope.data.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")


def taxonomy_path(name: str | Path) -> Path:
    """The file of a taxonomy: a path, or a bundled name (``default``, ``war-frames``,
    ``policy-frames``, ``persuasion-techniques``)."""
    key = str(name)
    if key in BUNDLED_TAXONOMIES and not Path(key).exists():
        return bundled("taxonomies", f"{BUNDLED_TAXONOMIES[key]}.yaml")
    return Path(name)


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Load a taxonomy from a YAML or JSON file, or a bundled one by name (see
    :func:`taxonomy_path`).

    Raises:
        DataError: when the file is missing, does not parse, or lacks a ``labels`` list.
    """
    path = taxonomy_path(path)
    data = read_json_or_yaml(path, "taxonomy file")
    return Taxonomy.from_dict(data, where=str(path))


def label_matrix(passages: Sequence[Passage], taxonomy: Taxonomy) -> np.ndarray:
    """Multi-hot ``(n_passages, n_labels)`` float32 matrix in the taxonomy's column order;
    labels outside the taxonomy are ignored.

    Example:
        >>> from framescope.data.schema import Passage
        >>> label_matrix([Passage(id="1", text="x", labels=["b"])], Taxonomy.from_ids(["a", "b"])).tolist()
        [[0.0, 1.0]]
    """
    index = taxonomy.index
    y = np.zeros((len(passages), len(taxonomy)), dtype=np.float32)
    for i, p in enumerate(passages):
        for lab in p.labels or []:
            j = index.get(lab)
            if j is not None:
                y[i, j] = 1.0
    return y
