"""Passage splitting offsets, grouped/stratified splits, taxonomy, fingerprints."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from conftest import toy_records

from framescope.data import (
    DataError,
    Passage,
    Taxonomy,
    approx_tokens,
    cut_article,
    fingerprint,
    load_taxonomy,
    split_passages,
)
from framescope.data.schema import record_to_passage
from framescope.data.taxonomy import DEFAULT_TAXONOMY

ARTICLE = (
    "Headline of the piece\n\n"
    "First paragraph has two sentences. It ends here.\n\n  \n"
    "Second paragraph is long. " + " ".join(f"Sentence number {i} adds words to it." for i in range(40))
    + "\n\nA closing line without a full stop"
)


def test_offsets_are_exact_and_budget_respected() -> None:
    rec = Passage(id="art", text=ARTICLE, labels=["x"], outlet="O")
    parts = cut_article(rec, max_tokens=40)
    assert len(parts) > 4
    for i, p in enumerate(parts):
        assert ARTICLE[p.start:p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert p.id == f"art#{i}" and p.index == i and p.article_id == "art"
        assert p.labels == ["x"] and p.outlet == "O"
        assert approx_tokens(p.text) <= 40
    assert parts[0].text == "Headline of the piece"
    # passages cover every word of the article in order
    assert " ".join(p.text for p in parts).split() == ARTICLE.split()


def test_single_passage_keeps_id() -> None:
    [p] = cut_article(Passage(id="s1", text="  Short text.  "))
    assert (p.id, p.start, p.end, p.text) == ("s1", 2, 13, "Short text.")


def test_overlong_sentence_is_cut_by_words() -> None:
    text = " ".join(["word"] * 500)
    parts = cut_article(Passage(id="w", text=text), max_tokens=30)
    assert all(text[p.start:p.end] == p.text for p in parts)
    assert sum(len(p.text.split()) for p in parts) == 500


def test_tokenizer_counter_is_used() -> None:
    parts = cut_article(Passage(id="c", text="a b c d e f g h i j. k l m n o p."), max_tokens=8,
                          count_tokens=lambda s: len(s.replace(" ", "")))
    assert all(len(p.text.replace(" ", "")) <= 8 or " " not in p.text for p in parts)


def _passages(n_articles: int = 120, seed: int = 1) -> list[Passage]:
    rng = random.Random(seed)
    out = []
    for a in range(n_articles):
        for k in range(rng.randint(2, 6)):
            labs = [lab for lab in ("rare", "mid", "common") if rng.random() < {"rare": .05, "mid": .2, "common": .5}[lab]]
            out.append(Passage(id=f"a{a}p{k}", text=f"t {a} {k}", labels=labs, article_id=f"a{a}",
                               outlet=f"o{a % 7}"))
    return out


def test_split_is_grouped_stratified_and_reproducible() -> None:
    ps = _passages()
    splits = split_passages(ps, seed=3)
    assert sum(len(v) for v in splits.values()) == len(ps)
    groups = {name: {p.article_id for p in v} for name, v in splits.items()}
    assert not (groups["train"] & groups["dev"]) and not (groups["train"] & groups["test"])
    assert not (groups["dev"] & groups["test"])
    total = Counter(lab for p in ps for lab in p.labels)
    for name, share in (("train", .8), ("dev", .1), ("test", .1)):
        got = Counter(lab for p in splits[name] for lab in p.labels)
        for lab, n in total.items():
            assert abs(got[lab] - share * n) <= max(3, 0.25 * share * n), (name, lab, got[lab], n)
        assert abs(len(splits[name]) - share * len(ps)) <= 0.05 * len(ps)
    shuffled = ps[:]
    random.Random(9).shuffle(shuffled)
    again = split_passages(shuffled, seed=3)
    assert {k: sorted(p.id for p in v) for k, v in again.items()} == {
        k: sorted(p.id for p in v) for k, v in splits.items()}
    other = split_passages(ps, seed=4)
    assert {p.id for p in other["test"]} != {p.id for p in splits["test"]}


def test_group_by_composite_key() -> None:
    ps = _passages(60)
    splits = split_passages(ps, group_by="outlet", ratios={"train": .7, "test": .3})
    assert not ({p.outlet for p in splits["train"]} & {p.outlet for p in splits["test"]})


def test_split_needs_enough_groups() -> None:
    with pytest.raises(ValueError, match="cannot fill 3 splits"):
        split_passages([Passage(id="1", text="x", article_id="A")])


def test_fingerprint_is_order_independent_and_label_sensitive() -> None:
    ps = [record_to_passage(r, source="t", line=i) for i, r in enumerate(toy_records(20))]
    assert fingerprint(ps) == fingerprint(list(reversed(ps)))
    before = fingerprint([Passage(id="1", text="x", labels=["a"])])
    assert before != fingerprint([Passage(id="1", text="x", labels=["b"])])


def test_taxonomy_unknown_label_message_and_infer(caplog) -> None:
    tax = Taxonomy.from_ids(["proxy_war", "humanitarian_toll"])
    err = tax.check(["proxy_wars"], source="f.jsonl", line=4)
    assert err is not None and "unknown label 'proxy_wars'" in err.message
    assert "Did you mean 'proxy_war'?" in err.message and "humanitarian_toll" in err.message
    inferred = Taxonomy.infer([["b"], ["a", "b"], None])
    assert inferred.ids == ["a", "b"] and "inferred 2 labels" in caplog.text
    with pytest.raises(DataError, match="appears twice"):
        Taxonomy.from_ids(["a", "a"])


def test_bundled_taxonomies_load() -> None:
    folder = DEFAULT_TAXONOMY.parent
    sizes = {name: len(load_taxonomy(folder / f"{name}.yaml")) for name in
             ("war-frames", "policy-frames", "persuasion-techniques")}
    assert sizes == {"war-frames": 10, "policy-frames": 14, "persuasion-techniques": 23}
    war = load_taxonomy(DEFAULT_TAXONOMY)
    assert war.ids[0] == "proxy_war" and all(lab.description for lab in war.labels)
