"""Which passages to label next: query strategies over a model's scores (and embeddings).

One public entry point, :func:`choose`, returns row indices in pick order. Strategies:

- ``random``: a seeded permutation (the baseline every other strategy must beat).
- ``uncertainty``: passages nearest the model's decision boundary.
  *Multi-label*: for each label, the distance of its score to that label's stored threshold,
  scaled by the room on that side of the threshold (:func:`label_distances`)::

      d = (t - p) / t          when p <  t
      d = (p - t) / (1 - t)    when p >= t

  so ``d`` runs from 0 (on the threshold) to 1 (certain: score 0 or 1) for every label, and a
  label with threshold 0.1 compares fairly with one at 0.5 (unscaled, 0.2 vs 0.1 and 0.6 vs 0.5
  would count the same although the first sits far above its threshold, 1/9 of the way to 1, and
  the second 1/5). A passage's uncertainty is its smallest label distance.
  *Single-label*: the margin between the two highest class probabilities (smaller = more
  uncertain); a label's distance is the gap between its probability and the best other class.
- **per-label quota** (uncertainty and mixed): ``round(quota * n)`` picks are shared out
  round-robin across labels, rarest predicted label first (fewest passages predicted above
  threshold, ties by taxonomy order), each label taking its not-yet-picked passage nearest its
  own threshold, so that rare frames get candidates even when common frames dominate overall
  uncertainty. The remaining picks follow overall uncertainty. ``quota=0`` disables it.
- ``diversity``: scikit-learn :class:`~sklearn.cluster.KMeans` with ``n`` clusters (seeded,
  ``n_init=1``) on L2-normalised embeddings; from each cluster, largest first, the member
  nearest its centroid.
- ``mixed``: a candidate pool of the ``MIXED_POOL_FACTOR * n`` most uncertain passages (quota
  applied, capped at ``MIXED_POOL_CAP`` and at the pool), then ``diversity`` within it; the
  chosen passages are returned most uncertain first.

Ties are broken by row order, so every strategy is deterministic for a given seed.

Why scikit-learn and not ``small-text``: small-text's query strategies
(``query(clf, dataset, indices_unlabeled, indices_labeled, y, n)``) call a small-text classifier
wrapper's ``predict_proba``/``embed`` on a small-text ``Dataset``; they do not take a score matrix
and a threshold vector, their uncertainty measures (least confidence, breaking ties, entropy) know
nothing of per-label thresholds or a per-label quota, and the package pins its own torch
integration. Wrapping our artifact in its classifier interface to reuse a dozen lines of
arithmetic would cost more than it saves (small-text issue #30 describes the same awkwardness for
an already-trained model). The clustering itself is scikit-learn's, not hand-written.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "MIXED_POOL_CAP",
    "MIXED_POOL_FACTOR",
    "STRATEGIES",
    "choose",
    "label_distances",
    "mixed_pool",
    "quota_order",
    "uncertainty",
]

#: The strategies :func:`choose` knows.
STRATEGIES = ("random", "uncertainty", "diversity", "mixed")
#: ``mixed`` clusters the ``MIXED_POOL_FACTOR * n`` most uncertain passages ...
MIXED_POOL_FACTOR = 4
#: ... but never more than this many (k-means cost grows with pool size times n).
MIXED_POOL_CAP = 20_000
#: Smallest room on a side of a threshold (a threshold of exactly 0 or 1 divides by this).
_EPS = 1e-6


def _check(probs: np.ndarray, thresholds: np.ndarray | None, n: int, strategy: str, quota: float,
           single_label: bool) -> tuple[np.ndarray, np.ndarray | None]:
    if strategy not in STRATEGIES:
        raise ValueError(f"The 'strategy' parameter of choose must be one of {', '.join(STRATEGIES)}. "
                         f"Got {strategy!r} instead.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"The 'n' parameter of choose must be an int >= 0. Got {n!r} instead.")
    if not 0.0 <= float(quota) <= 1.0:
        raise ValueError(f"The 'quota' parameter of choose must be a float in [0, 1]. Got {quota!r} instead.")
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"The 'probs' parameter of choose must be a 2-d array (passages, labels). "
                         f"Got shape {probs.shape} instead.")
    if single_label:
        return probs, None
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if t.shape[0] != probs.shape[1]:
        raise ValueError(f"The 'thresholds' parameter of choose must hold one threshold per label "
                         f"({probs.shape[1]}). Got {t.shape[0]} instead.")
    return probs, t


def label_distances(probs: np.ndarray, thresholds: np.ndarray | None, *,
                    single_label: bool = False) -> np.ndarray:
    """Per-label distance to the decision boundary ``(n, n_labels)``, 0 = on it.

    Multi-label: ``|p - t|`` divided by the room on that side of the threshold (``t`` below it,
    ``1 - t`` above), so every label's distance runs from 0 to 1. Single-label: the gap between
    a class's probability and the best *other* class's probability.

    Example:
        >>> label_distances(np.array([[0.2, 0.6]]), np.array([0.1, 0.5])).round(3).tolist()
        [[0.111, 0.2]]
    """
    probs = np.asarray(probs, dtype=np.float64)
    if single_label:
        if probs.shape[1] < 2:
            return np.ones_like(probs)
        order = np.sort(probs, axis=1)
        best, second = order[:, -1:], order[:, -2:-1]
        other = np.where(probs >= best, second, best)  # the best class other than this one
        return np.abs(probs - other)
    t = np.asarray(thresholds, dtype=np.float64)[None, :]
    room = np.where(probs < t, t, 1.0 - t)
    return np.abs(probs - t) / np.maximum(room, _EPS)


def uncertainty(probs: np.ndarray, thresholds: np.ndarray | None, *,
                single_label: bool = False) -> np.ndarray:
    """A passage's distance to the decision boundary ``(n,)``: smaller = more uncertain.

    Multi-label: its smallest scaled label distance (:func:`label_distances`). Single-label: the
    margin between its two highest class probabilities.

    Example:
        >>> uncertainty(np.array([[0.7, 0.2, 0.1]]), None, single_label=True).round(3).tolist()
        [0.5]
    """
    dist = label_distances(probs, thresholds, single_label=single_label)
    if dist.shape[1] == 0:
        return np.ones(dist.shape[0])
    return dist.min(axis=1)


def _by_value(values: np.ndarray) -> np.ndarray:
    """Row indices by ascending value, ties by row order."""
    return np.argsort(values, kind="stable").astype(np.int64)


def quota_order(probs: np.ndarray, thresholds: np.ndarray | None, k: int, *, quota: float,
                single_label: bool = False) -> np.ndarray:
    """The first ``k`` passages by uncertainty with a per-label quota (see the module notes).

    ``round(quota * k)`` picks go round-robin over the labels, rarest predicted label first, each
    label taking its not-yet-picked passage nearest its threshold; the rest follow overall
    uncertainty. No passage appears twice; fewer than ``k`` only when the pool is smaller.
    """
    n_rows = probs.shape[0]
    k = min(k, n_rows)
    dist = label_distances(probs, thresholds, single_label=single_label)
    overall = _by_value(dist.min(axis=1) if dist.shape[1] else np.ones(n_rows))
    taken = np.zeros(n_rows, dtype=bool)
    picks: list[int] = []
    n_quota = min(k, round(float(quota) * k)) if dist.shape[1] else 0
    if n_quota:
        if single_label:
            positives = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
        else:
            positives = (probs >= np.asarray(thresholds, dtype=np.float64)[None, :]).sum(axis=0)
        labels = np.argsort(positives, kind="stable")
        queues = [_by_value(dist[:, lab]) for lab in labels]
        heads = [0] * len(queues)
        while len(picks) < n_quota:
            for q, queue in enumerate(queues):
                if len(picks) >= n_quota:
                    break
                while heads[q] < n_rows and taken[queue[heads[q]]]:
                    heads[q] += 1
                if heads[q] < n_rows:
                    row = int(queue[heads[q]])
                    taken[row] = True
                    picks.append(row)
    for row in overall:
        if len(picks) >= k:
            break
        if not taken[row]:
            taken[row] = True
            picks.append(int(row))
    return np.asarray(picks, dtype=np.int64)


def mixed_pool(probs: np.ndarray, thresholds: np.ndarray | None, n: int, *, quota: float,
               single_label: bool = False) -> np.ndarray:
    """The candidates ``mixed`` clusters: the ``MIXED_POOL_FACTOR * n`` most uncertain passages
    (quota applied; at most ``MIXED_POOL_CAP``, at least ``n``, never more than the pool), most
    uncertain first. Only these rows' embeddings are read, so a caller may embed just them.
    """
    probs = np.asarray(probs, dtype=np.float64)
    size = min(probs.shape[0], max(n, min(MIXED_POOL_FACTOR * n, MIXED_POOL_CAP)))
    return quota_order(probs, thresholds, size, quota=quota, single_label=single_label)


def _diverse(embeddings: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` rows of ``embeddings`` spread over its k-means clusters, largest cluster first."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import normalize

    rows = embeddings.shape[0]
    if n >= rows:
        return np.arange(rows, dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    x = normalize(np.asarray(embeddings, dtype=np.float64), norm="l2")
    with warnings.catch_warnings():  # duplicate points: fewer distinct clusters than n
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=n, n_init=1, random_state=seed).fit(x)
    dist = km.transform(x)
    sizes = np.bincount(km.labels_, minlength=n)
    taken = np.zeros(rows, dtype=bool)
    picks: list[int] = []
    for c in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero((km.labels_ == c) & ~taken)
        if not len(members):
            continue
        row = int(members[np.argmin(dist[members, c])])
        taken[row] = True
        picks.append(row)
    # empty or duplicate clusters: fill with the passages farthest from every chosen one
    if len(picks) < n:
        rest = np.flatnonzero(~taken)
        far = np.min(dist[rest][:, km.labels_[picks]], axis=1) if picks else np.zeros(len(rest))
        picks.extend(int(r) for r in rest[np.argsort(-far, kind="stable")][: n - len(picks)])
    return np.asarray(picks, dtype=np.int64)


def _embeddings(embeddings: np.ndarray | None, rows: int, strategy: str) -> np.ndarray:
    if embeddings is None:
        raise ValueError(f"The {strategy!r} strategy clusters passage embeddings: pass "
                         f"'embeddings' (an array with one row per passage), or use "
                         f"strategy='uncertainty' or 'random'.")
    emb = np.asarray(embeddings)
    if emb.ndim != 2 or emb.shape[0] != rows:
        raise ValueError(f"The 'embeddings' parameter of choose must have one row per passage "
                         f"({rows}). Got shape {emb.shape} instead.")
    return emb


def choose(probs: np.ndarray, thresholds: np.ndarray, n: int, *, strategy: str, single_label: bool = False,
           embeddings: np.ndarray | None = None, seed: int = 13, quota: float = 0.3) -> np.ndarray:
    """Indices (int64, into the rows of probs) of the n passages to label next, in pick order.

    Args:
        probs: model scores ``(passages, labels)``: sigmoid scores (multi-label) or class
            probabilities (single-label).
        thresholds: the model's stored per-label thresholds (ignored when ``single_label``).
        n: how many passages to pick; more than the pool returns the whole pool (in the
            strategy's order), 0 returns none.
        strategy: ``random``, ``uncertainty``, ``diversity`` or ``mixed`` (see the module notes).
        single_label: the scores are one distribution per passage (margin uncertainty).
        embeddings: ``(passages, dim)``; required by ``diversity`` and ``mixed``.
        seed: seeds the permutation (``random``) and k-means (``diversity``, ``mixed``).
        quota: the fraction of picks shared round-robin across labels (``uncertainty``,
            ``mixed``); 0 disables it.

    Returns:
        Unique row indices, at most ``n`` of them, in pick order.

    Raises:
        ValueError: an unknown strategy, a bad ``n``/``quota``/shape, or missing embeddings.

    Example:
        >>> p = np.array([[0.9, 0.1], [0.52, 0.1], [0.1, 0.45]])
        >>> choose(p, np.array([0.5, 0.5]), 2, strategy="uncertainty", quota=0).tolist()
        [1, 2]
    """
    probs, t = _check(probs, thresholds, n, strategy, quota, single_label)
    rows = probs.shape[0]
    emb = _embeddings(embeddings, rows, strategy) if strategy in ("diversity", "mixed") else None
    n = int(n)
    if rows == 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if strategy == "random":
        return np.random.default_rng(seed).permutation(rows)[:n].astype(np.int64)
    if strategy == "uncertainty":
        return quota_order(probs, t, n, quota=quota, single_label=single_label)
    if strategy == "diversity":
        return _diverse(emb, n, seed)
    pool = mixed_pool(probs, t, n, quota=quota, single_label=single_label)
    if n >= len(pool):
        return pool
    chosen = _diverse(emb[pool], n, seed)
    return pool[np.sort(chosen)]  # pool is in uncertainty order: most uncertain first
