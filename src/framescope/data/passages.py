"""Cutting articles into passages: paragraphs, then sentence windows under a token budget.

Every passage keeps its ``article_id`` and exact character offsets into the article, so
``article.text[p.start:p.end] == p.text`` always holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from framescope.data.schema import Passage

__all__ = ["CHARS_PER_TOKEN_BOUND", "approx_tokens", "cut_article", "cut_articles", "fits",
           "paragraph_spans", "passage_spans", "passages_at", "sentence_spans"]

TokenCounter = Callable[[str], int]

_PARA = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SENT_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9А-ЯЁІЇЄҐ])")
_WORD = re.compile(r"\S+")


#: Characters a token of ordinary text rarely exceeds: a text this many times longer than a token
#: budget is over budget without tokenizing all of it (which costs ~150 bytes a character).
CHARS_PER_TOKEN_BOUND = 32


def fits(text: str, budget: int, count: TokenCounter, start: int = 0, end: int | None = None) -> bool:
    """Whether ``text[start:end]`` holds at most ``budget`` tokens, tokenizing a bounded prefix
    of a long text (the whole text only when that prefix is unusually short in tokens), and
    never copying more of a long text than that prefix.

    Example:
        >>> fits("a b c", 4, approx_tokens), fits("word " * 10_000, 100, approx_tokens)
        (True, False)
    """
    end = len(text) if end is None else end
    limit = budget * CHARS_PER_TOKEN_BOUND
    if end - start > limit and count(text[start:start + limit]) > budget:
        return False
    return count(text[start:end]) <= budget


def _blocks(text: str, start: int, end: int, size: int) -> Iterator[tuple[int, int]]:
    """``text[start:end]`` in pieces of about ``size`` characters, cut after a sentence end or
    a space where there is one, so a huge paragraph is never tokenized whole."""
    pos = start
    while end - pos > size:
        stop = pos + size
        cut = max(text.rfind(". ", pos, stop), text.rfind("? ", pos, stop), text.rfind("! ", pos, stop))
        if cut <= pos:
            cut = text.rfind(" ", pos, stop)
        cut = stop if cut <= pos else cut + 1
        yield pos, cut
        pos = cut
    yield pos, end


def approx_tokens(text: str) -> int:
    """A cheap word-piece estimate (≈1.3 tokens a word) used when no tokenizer is given."""
    return (len(text.split()) * 4 + 2) // 3


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of paragraphs: blocks separated by blank lines, or by single newlines
    when the text has no blank line at all."""
    splitter = _PARA if _PARA.search(text) else re.compile(r"\n\s*")
    spans, pos = [], 0
    for m in splitter.finditer(text):
        spans.append(_trim(text, pos, m.start()))
        pos = m.end()
    spans.append(_trim(text, pos, len(text)))
    return [(s, e) for s, e in spans if e > s]


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text[start:end]``."""
    spans, pos = [], start
    for m in _SENT_END.finditer(text, start, end):
        spans.append(_trim(text, pos, m.start()))
        pos = m.end()
    spans.append(_trim(text, pos, end))
    return [(s, e) for s, e in spans if e > s]


def _word_windows(text: str, start: int, end: int, budget: int,
                  count: TokenCounter) -> Iterator[tuple[int, int]]:
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    i = 0
    while i < len(words):
        j = i + 1
        while j < len(words) and count(text[words[i][0]:words[j][1]]) <= budget:
            j += 1
        yield words[i][0], words[j - 1][1]
        i = j


def _windows(text: str, start: int, end: int, budget: int,
             count: TokenCounter) -> Iterator[tuple[int, int]]:
    """Greedy windows of whole sentences under ``budget`` (long sentences cut by words)."""
    cur: tuple[int, int] | None = None
    for s, e in sentence_spans(text, start, end):
        if not fits(text, budget, count, s, e):
            if cur:
                yield cur
                cur = None
            yield from _word_windows(text, s, e, budget, count)
            continue
        if cur and count(text[cur[0]:e]) <= budget:
            cur = (cur[0], e)
        else:
            if cur:
                yield cur
            cur = (s, e)
    if cur:
        yield cur


def passage_spans(text: str, *, max_tokens: int = 200,
                  count_tokens: TokenCounter | None = None) -> list[tuple[int, int]]:
    """Character spans of the passages of ``text``: its paragraphs, and sentence windows of
    at most ``max_tokens`` tokens for longer ones (a huge paragraph is first cut into blocks of
    characters, so no more than a bounded piece of text is ever tokenized at once)."""
    if max_tokens < 8:
        raise ValueError(f"The 'max_tokens' parameter must be at least 8. Got {max_tokens} instead.")
    count = count_tokens or approx_tokens
    spans: list[tuple[int, int]] = []
    for s, e in paragraph_spans(text):
        if fits(text, max_tokens, count, s, e):
            spans.append((s, e))
            continue
        for bs, be in _blocks(text, s, e, max_tokens * CHARS_PER_TOKEN_BOUND):
            spans.extend(_windows(text, *_trim(text, bs, be), max_tokens, count))
    return spans or [(0, len(text))]


def passages_at(record: Passage, spans: list[tuple[int, int]], start: int = 0) -> Iterator[Passage]:
    """The passages of ``record`` at ``spans`` (from the ``start``-th), made one at a time.

    A record cut into a single span keeps its own ``id``; otherwise passages get ``ID#0``,
    ``ID#1``, … Labels and metadata are inherited from the record.
    """
    text, base = record.text, record.start or 0
    article_id = record.article_id or record.id
    single = len(spans) == 1
    for i in range(start, len(spans)):
        s, e = spans[i]
        yield Passage(
            id=record.id if single else f"{record.id}#{i}",
            text=text[s:e],
            labels=list(record.labels) if record.labels is not None else None,
            article_id=article_id, title=record.title, outlet=record.outlet,
            published=record.published, url=record.url,
            start=base + s, end=base + e, index=i, split=record.split, meta=dict(record.meta),
            source=record.source, line=record.line,
        )


def cut_article(record: Passage, *, max_tokens: int = 200,
                  count_tokens: TokenCounter | None = None) -> list[Passage]:
    """Cut one record into passages (paragraphs; long ones into sentence windows).

    A record that fits in one passage keeps its own ``id``; otherwise passages get
    ``ID#0``, ``ID#1``, … Labels and metadata are inherited from the record.

    Example:
        >>> art = Passage(id="a1", text="First para.\\n\\nSecond para.")
        >>> [(p.id, p.start, p.end) for p in cut_article(art)]
        [('a1#0', 0, 11), ('a1#1', 13, 25)]
    """
    spans = passage_spans(record.text, max_tokens=max_tokens, count_tokens=count_tokens)
    return list(passages_at(record, spans))


def cut_articles(records: Iterable[Passage], **kwargs: object) -> Iterator[Passage]:
    """:func:`cut_article` over a stream of records."""
    for rec in records:
        yield from cut_article(rec, **kwargs)  # type: ignore[arg-type]
