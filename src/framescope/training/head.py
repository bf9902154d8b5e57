"""The classification head: loss weights, the linear-probe start, growth for new labels,
frozen layers and the head's own learning rate.

Everything training does to the head lives here, so the rules stay consistent: which module is
the head (:data:`framescope.modeling.HEAD_PREFIXES`), how new rows start (:func:`probe_head`
or fresh), how rows of old labels survive continued training (:func:`grow_head`), and which
parameters get the head learning rate (:func:`head_param_groups`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from framescope.data.errors import DataError
from framescope.data.taxonomy import Taxonomy
from framescope.modeling import HEAD_PREFIXES, ArtifactError

__all__ = [
    "freeze",
    "grow_head",
    "head_param_groups",
    "label_weights",
    "output_layer",
    "probe_head",
]


def label_weights(y: np.ndarray, mask: np.ndarray | None = None, *, mode: str = "auto",
                  single_label: bool = False) -> np.ndarray | None:
    """Loss weights against class imbalance, from the training label matrix.

    Multi-label: a positive weight per label, ``sqrt(neg/pos)`` capped at 10 (``auto``) or
    ``neg/pos`` capped at 50 (``balanced``), never below 1; a label without positives gets 1.
    Single-label: class weights ``(n / (k * count))**0.5`` (``auto``) or ``n / (k * count)``
    (``balanced``), normalised to mean 1. ``mode="none"`` returns ``None``. ``mask`` marks the
    entries that were annotated (replayed data is not annotated for new labels).

    Example:
        >>> label_weights(np.array([[1, 0], [0, 0], [0, 0], [0, 0], [0, 1]])).round(2).tolist()
        [2.0, 2.0]
    """
    if mode == "none":
        return None
    y = np.asarray(y, dtype=np.float64)
    m = np.ones_like(y) if mask is None else np.asarray(mask, dtype=np.float64)
    if single_label:
        counts = (y * m).sum(0)
        n, k = counts.sum(), y.shape[1]
        with np.errstate(divide="ignore"):
            w = np.where(counts > 0, n / (k * np.maximum(counts, 1)), 1.0)
        if mode == "auto":
            w = np.sqrt(w)
        return (w / w.mean()).astype(np.float32)
    pos = (y * m).sum(0)
    neg = ((1 - y) * m).sum(0)
    ratio = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    if mode == "auto":
        w = np.clip(np.sqrt(ratio), 1.0, 10.0)
    elif mode == "balanced":
        w = np.clip(ratio, 1.0, 50.0)
    else:
        raise ValueError(f"The 'mode' parameter must be auto, balanced or none. Got {mode!r} instead.")
    return w.astype(np.float32)


def output_layer(model: Any, n_labels: int | None = None) -> tuple[str, Any]:
    """The (name, module) of a classification model's final ``Linear`` layer: the last linear
    layer of its head (``classifier``, ``score``, ``head``, ``out_proj``) with ``n_labels``
    outputs (default: ``config.num_labels``).

    Raises:
        ArtifactError: when there is no such layer.
    """
    import torch

    n = int(n_labels if n_labels is not None else model.config.num_labels)
    candidates = [(name, mod) for name, mod in model.named_modules()
                  if isinstance(mod, torch.nn.Linear) and mod.out_features == n
                  and name.split(".")[0] in HEAD_PREFIXES]
    if not candidates:
        raise ArtifactError(f"cannot find the output layer ({n} outputs) of {type(model).__name__}")
    return candidates[-1]


def grow_head(model: Any, old: Taxonomy, new: Taxonomy, *, seed: int = 0) -> None:
    """Grow a classification model's output layer from ``old`` labels to ``new`` labels, in place.

    ``new`` must list ``old``'s labels first, in the same order (as :meth:`Taxonomy.extended`
    builds it). The rows (weights and bias) of the old labels are copied exactly; rows of the
    new labels are initialised fresh (normal with the backbone's ``initializer_range``, zero
    bias) from ``seed``. ``config.num_labels``, ``id2label`` and ``label2id`` are updated.

    Raises:
        ArtifactError: when ``new`` does not start with ``old`` or the output layer cannot be
            found.

    Example:
        >>> grow_head(model, Taxonomy.from_ids(["a"]), Taxonomy.from_ids(["a", "b"]))  # doctest: +SKIP
    """
    import torch

    n_old, n_new = len(old), len(new)
    if new.ids[:n_old] != old.ids:
        raise ArtifactError(f"cannot grow the head: new labels {new.ids} must start with the old "
                            f"labels {old.ids} in the same order")
    if n_new == n_old:
        return
    name, layer = output_layer(model, n_old)
    std = float(getattr(model.config, "initializer_range", 0.02))
    gen = torch.Generator().manual_seed(seed)
    fresh = torch.nn.Linear(layer.in_features, n_new, bias=layer.bias is not None)
    with torch.no_grad():
        weight = torch.randn(n_new, layer.in_features, generator=gen) * std
        weight[:n_old] = layer.weight.detach().float().cpu()
        fresh.weight.copy_(weight)
        if layer.bias is not None:
            bias = torch.zeros(n_new)
            bias[:n_old] = layer.bias.detach().float().cpu()
            fresh.bias.copy_(bias)
    fresh.to(device=layer.weight.device, dtype=layer.weight.dtype)
    parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
    setattr(parent, name.rsplit(".", 1)[-1], fresh)
    model.config.num_labels = n_new
    model.config.id2label = dict(enumerate(new.ids))
    model.config.label2id = new.index
    if hasattr(model, "num_labels"):
        model.num_labels = n_new


def probe_head(model: Any, dataset: Any, collate: Callable[[list[dict[str, Any]]], dict[str, Any]],
               y: np.ndarray, columns: Sequence[int], *, weights: np.ndarray | None = None,
               mask: np.ndarray | None = None, single_label: bool = False, batch_size: int = 64,
               progress: bool = False, C: float = 1.0) -> dict[str, Any]:
    """Initialise output-layer rows as a logistic-regression probe on the backbone's features.

    One forward pass (eval mode, no gradients, length-sorted batches) collects the input of the
    model's final linear layer for every training row; scikit-learn's
    :class:`~sklearn.linear_model.LogisticRegression` is then fitted per label (multi-label: one
    binary probe per column in ``columns``, positives weighted like the loss; rows whose
    ``mask`` is 0 for a label are left out of its probe) or once over all classes
    (``single_label``), and its coefficients become the layer's weights and bias. Fine-tuning
    then starts from a head that already separates the labels (linear probing, then
    fine-tuning; Kumar et al., ICLR 2022) instead of from noise, which matters when the CPU
    budget allows only a few epochs.

    Returns:
        What was done, for the artifact's record: method, rows fitted, rows skipped (a label
        with one class only keeps its initial row), seconds.
    """
    import torch
    from sklearn.linear_model import LogisticRegression
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    _, layer = output_layer(model)
    feats: list[Any] = [None] * len(dataset)
    captured: dict[str, Any] = {}
    hook = layer.register_forward_hook(lambda _m, inputs, _o: captured.__setitem__("x", inputs[0]))
    lengths = dataset["length"] if "length" in dataset.column_names else [len(r["input_ids"]) for r in dataset]
    order = sorted(range(len(dataset)), key=lambda i: lengths[i])
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    keys = ("input_ids", "attention_mask", "token_type_ids")
    try:
        with torch.no_grad():
            batches = range(0, len(order), batch_size)
            for start in tqdm(batches, desc="probe", unit="batch", disable=not progress, leave=False):
                idx = order[start:start + batch_size]
                batch = collate([dataset[int(i)] for i in idx])
                model(**{k: v.to(device) for k, v in batch.items() if k in keys})
                x = captured["x"].float().cpu().numpy()
                for row, i in enumerate(idx):
                    feats[i] = x[row]
    finally:
        hook.remove()
        model.train(was_training)
    X = np.stack(feats).astype(np.float64)
    weight = layer.weight.detach().float().cpu().numpy().copy()
    bias = (layer.bias.detach().float().cpu().numpy().copy() if layer.bias is not None
            else np.zeros(weight.shape[0]))
    fitted: list[int] = []
    skipped: list[int] = []
    if single_label:
        target = y.argmax(axis=1) if y.ndim == 2 else np.asarray(y)
        present = np.unique(target)
        cw = None if weights is None else {int(c): float(weights[c]) for c in present}
        if len(present) >= 2:
            lr = LogisticRegression(C=C, max_iter=1000, class_weight=cw).fit(X, target)
            coef, icpt = lr.coef_, lr.intercept_
            if len(present) == 2:  # sklearn returns one row for two classes
                coef, icpt = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-icpt[0] / 2, icpt[0] / 2])
            for row, c in enumerate(present):
                if c in columns:
                    weight[c], bias[c] = coef[row], icpt[row]
                    fitted.append(int(c))
        skipped = [int(c) for c in columns if c not in fitted]
    else:
        for j in columns:
            rows = np.ones(len(X), dtype=bool) if mask is None else mask[:, j] > 0
            yj = y[rows, j]
            if yj.min() == yj.max():
                skipped.append(int(j))
                continue
            cw = {0: 1.0, 1: 1.0 if weights is None else float(weights[j])}
            lr = LogisticRegression(C=C, max_iter=1000, class_weight=cw).fit(X[rows], yj)
            weight[j], bias[j] = lr.coef_[0], lr.intercept_[0]
            fitted.append(int(j))
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
        if layer.bias is not None:
            layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))
    return {"method": "probe", "C": C, "rows_fitted": len(fitted), "rows_skipped": skipped,
            "passages": len(X), "seconds": round(time.perf_counter() - t0, 2)}


def head_param_groups(model: Any, groups: Sequence[dict[str, Any]], head_lr: float) -> list[dict[str, Any]]:
    """Optimizer parameter groups with the classification head split off at ``head_lr``.

    Each group of ``groups`` (e.g. the Trainer's weight-decay / no-decay groups) becomes a body
    group and, when it holds head parameters, a head group with the same settings and ``lr``
    set to ``head_lr``.
    """
    head = {id(p) for n, p in model.named_parameters() if n.split(".")[0] in HEAD_PREFIXES}
    out = []
    for g in groups:
        rest = {k: v for k, v in g.items() if k != "params"}
        body = [p for p in g["params"] if id(p) not in head]
        top = [p for p in g["params"] if id(p) in head]
        if body:
            out.append({**rest, "params": body})
        if top:
            out.append({**rest, "params": top, "lr": head_lr})
    return out


def freeze(model: Any, embeddings: bool, layers: int | None) -> tuple[int, int]:
    """Freeze the word embeddings and/or the embedding block plus the lowest ``layers`` layers
    (``None``: half of them); returns (layers frozen, parameters frozen)."""
    import torch

    before = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    if embeddings:
        emb = model.get_input_embeddings()
        if emb is not None:
            emb.weight.requires_grad_(False)
    n_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if layers is None:
        layers = n_layers // 2
    if layers:
        base = getattr(model, model.base_model_prefix, model)
        stacks = [m for m in base.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n_layers]
        if not stacks:
            raise DataError(f"--freeze-layers: cannot find the {n_layers} transformer layers of "
                            f"{type(model).__name__}; use --freeze-layers 0")
        if layers >= n_layers:
            raise DataError(f"--freeze-layers {layers} would freeze all {n_layers} layers; use at "
                            f"most {n_layers - 1}")
        emb_block = getattr(base, "embeddings", None)
        if emb_block is not None:
            emb_block.requires_grad_(False)
        for layer in stacks[0][:layers]:
            layer.requires_grad_(False)
    return layers, sum(p.numel() for p in model.parameters() if not p.requires_grad) - before
