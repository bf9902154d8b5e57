"""The bundled seed dataset: card counts, labels, duplicates, originality, requirements."""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT, SHARED_DATA

from framescope.data import DEFAULT_TAXONOMY, load_passages, load_taxonomy, read_passages
from framescope.data.dedup import exact_duplicates, near_duplicates, shared_runs

SEED = ROOT / "data" / "seed"
FILES = [SEED / f"{s}.jsonl" for s in ("train", "dev", "test")]

pytestmark = pytest.mark.skipif(not all(f.exists() for f in FILES), reason="seed data not built")


@pytest.fixture(scope="module")
def seed():
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    data = load_passages(FILES, taxonomy=tax)  # raises on any unknown label or bad record
    return tax, data.passages


def test_card_counts_match_files() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    import seed_card

    card = (SEED / "README.md").read_text(encoding="utf-8")
    assert seed_card.render_counts() in card, "run: python tools/seed_card.py"


def test_size_and_label_requirements(seed) -> None:
    tax, ps = seed
    assert len(ps) >= 5000
    for lab in tax.ids:
        assert sum(lab in p.labels for p in ps) >= 300, lab
    assert sum(not p.labels for p in ps) / len(ps) >= 0.40
    assert sum(len(p.labels) > 1 for p in ps) > 0.1 * len(ps)


def test_cue_free_positives_and_hard_negatives(seed) -> None:
    """At least half of each frame's positives carry it without any of its cue words, and at
    least a fifth of the no-frame passages hold some frame's cue word (in another sense)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from seed_card import has_cue

    tax, ps = seed
    for lab in tax.labels:
        pos = [p for p in ps if lab.id in p.labels]
        free = sum(not has_cue(p.text, lab.cues) for p in pos)
        assert free >= len(pos) / 2, (lab.id, free, len(pos))
    none = [p for p in ps if not p.labels]
    hard = sum(any(has_cue(p.text, lab.cues) for lab in tax.labels) for p in none)
    assert hard >= 0.2 * len(none), (hard, len(none))


def test_lengths_spread_like_real_paragraphs(seed) -> None:
    _, ps = seed
    words = sorted(len(p.text.split()) for p in ps)
    assert words[len(words) // 2] >= 30 and words[int(len(words) * 0.95)] >= 75


def test_article_shape_and_metadata(seed) -> None:
    _, ps = seed
    from collections import Counter

    sizes = Counter(p.article_id for p in ps)
    assert min(sizes.values()) >= 3 and max(sizes.values()) <= 8
    assert len({p.outlet for p in ps}) >= 6
    years = {p.published[:4] for p in ps}
    assert {"2022", "2023", "2024"} <= years


def test_splits_are_grouped(seed) -> None:
    groups = [{p.article_id for p in read_passages([f])} for f in FILES]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])


def test_no_duplicates_or_near_duplicates(seed) -> None:
    _, ps = seed
    assert exact_duplicates(ps) == []
    assert near_duplicates(ps, n=5, threshold=0.5) == []


def test_no_verbatim_overlap_with_public_data(seed) -> None:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data absent")
    corpus: list[str] = []
    for name in ("semeval2023-t3-persuasion", "semeval2023-t3-frames", "babe"):
        corpus.extend(p.text for p in read_passages([SHARED_DATA / name], on_error="skip"))
    _, ps = seed
    texts = [p.text for p in ps]
    hits = shared_runs(texts, corpus, n=12)
    assert hits == [], [(ps[i].id, run) for i, run in hits[:5]]


def test_sample_feeds_original_and_readable() -> None:
    samples = ROOT / "data" / "samples"
    arts = list(read_passages([samples / "feed.xml", samples / "articles.jsonl"]))
    assert len(arts) >= 30 and len({a.outlet for a in arts}) >= 4
    assert max(len(a.text.split()) for a in arts) >= 900
    if SHARED_DATA.exists():
        corpus = [p.text for p in read_passages([SHARED_DATA / "semeval2023-t3-frames"])]
        assert shared_runs([a.text for a in arts], corpus, n=12) == []
