"""The Hugging Face Trainer as framescope uses it: the loss, the optimizer's head group, the
training arguments, model selection across epochs and the progress display.

:func:`framescope.training.run.train` drives it; ``accelerate launch`` and ``torchrun`` work
unchanged because the Trainer handles distribution.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from framescope.training.config import TrainConfig
from framescope.training.head import head_param_groups

__all__ = ["Selection", "bag_log_probs", "callbacks", "choose_precision", "in_order", "trainer_class",
           "training_args"]


def choose_precision(precision: str) -> tuple[str, str]:
    """The training precision for ``precision`` and why: ``("bf16" | "fp32", reason)``.

    ``auto`` picks bf16 autocast only where the hardware computes bf16 natively: a CUDA GPU
    that supports it, or a CPU with AVX-512 BF16/AMX. On AVX2-only CPUs bf16 autocast is
    emulated and measured several times slower than fp32, so ``auto`` keeps fp32 there.
    """
    import torch

    from framescope.runtime import cpu_supports_bf16

    if precision == "fp32":
        return "fp32", "requested"
    if precision == "bf16":
        return "bf16", "requested"
    if precision != "auto":
        raise ValueError(f"The 'precision' parameter must be auto, fp32 or bf16. Got {precision!r} instead.")
    if torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: the GPU supports bf16"
        return "fp32", "auto: the GPU lacks bf16"
    if cpu_supports_bf16():
        return "bf16", "auto: the CPU has native bf16 (AVX-512 BF16 / AMX)"
    return "fp32", ("auto: the CPU has no native bf16 (AVX2 only), where bf16 autocast is "
                    "several times slower than fp32")


def bag_log_probs(logits: Any, bag: Any, n_bags: int, rule: str) -> tuple[Any, Any]:
    """``(log P, log(1 - P))`` per bag and label, where ``P`` is a bag's score from its passages'
    logits: ``max`` (the highest passage score), ``noisy-or`` (``1 - prod(1 - p)``) or ``mean``
    (the average passage score).

    All are computed in log space so the loss stays finite: ``log(1 - P)`` of noisy-OR is the sum
    of the passages' ``log(1 - p)``, and ``log P`` comes from it through a stable ``log(1 - e^x)``;
    the mean's ``log P`` and ``log(1 - P)`` are log-mean-exps of the passages' ``log p`` and
    ``log(1 - p)``.

    Args:
        logits: ``(passages, labels)`` tensor.
        bag: ``(passages,)`` long tensor, each passage's bag in ``range(n_bags)``.
        n_bags: the number of bags; every bag needs at least one passage.
        rule: ``max``, ``noisy-or`` or ``mean``.
    """
    import torch

    index = bag.unsqueeze(1).expand_as(logits)
    if rule == "max":
        z = torch.full((n_bags, logits.shape[1]), float("-inf"), dtype=logits.dtype, device=logits.device)
        z = z.scatter_reduce(0, index, logits, reduce="amax", include_self=False)
        return torch.nn.functional.logsigmoid(z), torch.nn.functional.logsigmoid(-z)
    if rule == "mean":
        return (_bag_log_mean_exp(torch.nn.functional.logsigmoid(logits), bag, n_bags),
                _bag_log_mean_exp(torch.nn.functional.logsigmoid(-logits), bag, n_bags))
    if rule != "noisy-or":
        raise ValueError(f"The 'rule' parameter must be max, noisy-or or mean. Got {rule!r} instead.")
    miss = torch.zeros((n_bags, logits.shape[1]), dtype=logits.dtype, device=logits.device)
    miss = miss.index_add(0, bag, torch.nn.functional.logsigmoid(-logits))  # log(1 - P) <= 0
    # log(1 - e^x) for x < 0: log(-expm1(x)) near 0, log1p(-e^x) further out; each branch gets an
    # input clamped to its own range so neither produces inf/NaN gradients through torch.where
    near = torch.log(-torch.expm1(miss.clamp(min=-0.6931, max=-1e-7)))
    far = torch.log1p(-torch.exp(miss.clamp(max=-0.6931)))
    return torch.where(miss > -0.6931, near, far), miss


def _bag_log_mean_exp(x: Any, bag: Any, n_bags: int) -> Any:
    """``log(mean(exp(x)))`` over each bag's rows, per column, shifted by the bag's max so that
    every term is at most ``exp(0)`` and the bag's sum at least 1 (no overflow, no ``log 0``)."""
    import torch

    index = bag.unsqueeze(1).expand_as(x)
    top = torch.full((n_bags, x.shape[1]), float("-inf"), dtype=x.dtype, device=x.device)
    top = top.scatter_reduce(0, index, x, reduce="amax", include_self=False).detach()
    total = torch.zeros_like(top).index_add(0, bag, torch.exp(x - top[bag]))
    count = torch.bincount(bag, minlength=n_bags).clamp(min=1).to(x.dtype).unsqueeze(1)
    return top + torch.log(total) - torch.log(count)


def trainer_class() -> type:
    """The Trainer subclass (built on first use, so importing this module stays light)."""
    import torch
    from transformers import Trainer

    class FramescopeTrainer(Trainer):
        """A :class:`~transformers.Trainer` with weighted, maskable BCE or weighted cross-entropy."""

        def __init__(self, *args: Any, pos_weight: np.ndarray | None = None,
                     single_label: bool = False, head_lr: float | None = None,
                     record_loss: str = "pieces", **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.fs_weight = None if pos_weight is None else torch.tensor(pos_weight)
            self.fs_single = single_label
            self.fs_head_lr = head_lr
            self.fs_record_loss = record_loss

        def create_optimizer(self, model: Any = None) -> Any:
            """The Trainer's AdamW, with the classification head in groups of its own learning rate."""
            opt = super().create_optimizer(model)
            if self.fs_head_lr is None or getattr(opt, "fs_split", False):
                return opt
            groups = head_param_groups(self.model if model is None else model, opt.param_groups,
                                       self.fs_head_lr)
            opt.param_groups.clear()
            for g in groups:
                opt.add_param_group(g)
            opt.fs_split = True
            return opt

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            labels = inputs.pop("labels")
            inputs.pop("row_index", None)
            mask = inputs.pop("label_mask", None)
            bag = inputs.pop("bag", None)
            outputs = model(**inputs)
            logits = outputs.logits.float()
            weight = None if self.fs_weight is None else self.fs_weight.to(logits.device)
            if bag is not None:  # multiple-instance: the loss is on each record's combined score
                log_p, log_q = bag_log_probs(logits, bag, labels.shape[0], self.fs_record_loss)
                y = labels.to(logits.dtype)
                pos = y * log_p if weight is None else weight * y * log_p
                per = -(pos + (1 - y) * log_q)
                loss = per.mean() if mask is None else (per * mask).sum() / mask.sum().clamp(min=1.0)
            elif self.fs_single:
                loss = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
            else:
                per = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, labels.to(logits.dtype), pos_weight=weight, reduction="none")
                if mask is None:
                    loss = per.mean()
                else:
                    loss = (per * mask).sum() / mask.sum().clamp(min=1.0)
            return (loss, outputs) if return_outputs else loss

    return FramescopeTrainer


@dataclass
class Selection:
    """Model selection across epochs: the best dev state so far, the history, early stopping.

    The best epoch has the highest dev macro-F1 at threshold 0.5 (argmax for single-label
    models), ties broken by the lower dev loss; its weights are kept in memory (no checkpoint
    files) and its dev scores are kept for threshold tuning.
    """

    patience: int
    total_epochs: float
    best_key: tuple[float, float] | None = None
    best_epoch: int | None = None
    best_state: dict[str, Any] | None = None
    best_probs: np.ndarray | None = None
    last_probs: np.ndarray | None = None
    last_loss: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    waited: int = 0
    stopped_early: bool = False
    #: ``time.monotonic()`` after which no new epoch starts (``--max-minutes``)
    deadline: float | None = None
    stop_reason: str | None = None


def dev_loss(metrics: dict[str, Any]) -> float | None:
    """The dev loss on the training objective: per record for multiple-instance training
    (``eval_record_loss``), else the Trainer's per-passage ``eval_loss``."""
    value = metrics.get("eval_record_loss", metrics.get("eval_loss"))
    return None if value is None else float(value)


def callbacks(model: Any, sel: Selection, progress: bool) -> list[Any]:
    """The Trainer callbacks: keep the best state (stop early), and a progress bar."""
    from transformers import TrainerCallback

    patience, total_epochs = sel.patience, sel.total_epochs

    class KeepBest(TrainerCallback):
        """Keep the best dev state in memory; stop after ``patience`` epochs without gain."""

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                        **kwargs: Any) -> None:
            if not metrics or "eval_macro_f1" not in metrics:
                return
            value = float(metrics["eval_macro_f1"])
            epoch = round(state.epoch or 0)
            loss = dev_loss(metrics)
            entry = {"epoch": epoch, "dev_macro_f1": round(value, 6),
                     "dev_micro_f1": round(float(metrics.get("eval_micro_f1", 0.0)), 6),
                     "train_loss": sel.last_loss,
                     "dev_loss": None if loss is None else round(loss, 6)}
            if "eval_record_loss" in metrics and "eval_loss" in metrics:
                entry["dev_passage_loss"] = round(float(metrics["eval_loss"]), 6)
            # better dev macro-F1 wins; on a tie, the lower dev loss
            key = (round(value, 6), -(loss or 0.0))
            improved = sel.best_key is None or key > sel.best_key
            entry["best"] = improved
            sel.history.append(entry)
            if improved:
                sel.best_key, sel.best_epoch, sel.best_probs, sel.waited = key, epoch, sel.last_probs, 0
                sel.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            else:
                sel.waited += 1
                if patience and sel.waited >= patience and epoch < total_epochs - 1e-6:
                    control.should_training_stop = True
                    sel.stopped_early = True
                    sel.stop_reason = f"early stopping: {sel.waited} epochs without a better dev macro-F1"
            if (not control.should_training_stop and sel.deadline is not None
                    and time.monotonic() > sel.deadline and epoch < total_epochs - 1e-6):
                control.should_training_stop = True
                sel.stopped_early = True
                sel.stop_reason = f"time budget (--max-minutes) spent after epoch {epoch}"

    class Progress(TrainerCallback):
        """A progress bar with ETA and one line per epoch (instead of raw log dicts)."""

        def __init__(self) -> None:
            self.bar: Any = None
            self.seen = 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress and state.is_world_process_zero:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.max_steps, desc="training", unit="step", dynamic_ncols=True)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.update(state.global_step - self.seen)
                self.seen = state.global_step

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None,
                   **kwargs: Any) -> None:
            if logs and "loss" in logs:
                sel.last_loss = round(float(logs["loss"]), 6)

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                        **kwargs: Any) -> None:
            if self.bar is None or not metrics or "eval_macro_f1" not in metrics:
                return
            h = sel.history[-1] if sel.history else {}
            mark = "  *best*" if h.get("best") else ""
            loss = sel.last_loss
            self.bar.write(f"epoch {h.get('epoch', '?')}/{math.ceil(total_epochs)}: train loss "
                           f"{'-' if loss is None else f'{loss:.4f}'}  dev loss "
                           f"{dev_loss(metrics) or float('nan'):.4f}  dev macro-F1 "
                           f"{metrics['eval_macro_f1']:.3f}  micro-F1 "
                           f"{metrics.get('eval_micro_f1', 0):.3f}{mark}")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    # the evaluation's own callback order matters: KeepBest records history before Progress prints
    return [KeepBest(), Progress()]


def in_order(pred: Any) -> np.ndarray:
    """Logits in dataset order: the Trainer may batch evaluation rows by length (and shards them
    across processes), so each row carries its index as a second label and is put back here."""
    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    index = np.asarray(pred.label_ids[1]).reshape(-1)
    out = np.empty_like(logits)
    out[index] = logits
    if len(index) != len(logits) or len(np.unique(index)) != len(index):
        raise RuntimeError(f"evaluation returned {len(logits)} rows with {len(np.unique(index))} "
                           "distinct row indices; cannot align predictions with the data")
    return out


def training_args(scratch: str, cfg: TrainConfig, total_steps: int, precision: str,
                  on_gpu: bool, progress: bool, batch_size: int | None = None) -> Any:
    """The :class:`~transformers.TrainingArguments` of a run (no checkpoints are written);
    ``batch_size`` overrides ``cfg.batch_size`` for training (records per batch with
    multiple-instance training)."""
    from transformers import TrainingArguments as cls

    names = {f.name for f in dataclasses.fields(cls)}
    # length-grouped batches: `train_sampling_strategy` in recent transformers, a flag before
    grouping = ({"train_sampling_strategy": "group_by_length"} if "train_sampling_strategy" in names
                else {"group_by_length": True})
    return cls(
        output_dir=scratch, num_train_epochs=cfg.epochs, learning_rate=cfg.lr,
        per_device_train_batch_size=batch_size or cfg.batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
        weight_decay=cfg.weight_decay, warmup_steps=round(cfg.warmup_ratio * total_steps),
        lr_scheduler_type="linear", eval_strategy="epoch", save_strategy="no",
        logging_strategy="epoch", report_to="none", seed=cfg.seed, data_seed=cfg.seed,
        bf16=precision == "bf16", use_cpu=not on_gpu, remove_unused_columns=False,
        label_names=["labels", "row_index"], disable_tqdm=not progress, dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
        log_level="error", **grouping,
    )
