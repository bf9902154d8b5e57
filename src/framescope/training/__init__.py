"""Fine-tuning: train a passage classifier, choose its thresholds, and grow it with new labels.

- :mod:`~framescope.training.config`: :class:`TrainConfig`, the one schema of flags and config files;
- :mod:`~framescope.training.data`: reading each role, seed-data defaults, replayed old data;
- :mod:`~framescope.training.head`: loss weights, the linear probe, head growth, freezing;
- :mod:`~framescope.training.trainer`: the Hugging Face Trainer, model selection, progress;
- :mod:`~framescope.training.run`: :func:`train`, the run as named steps;
- :mod:`~framescope.training.summary`: :class:`TrainResult` and the one-screen summary.

Example:
    >>> from framescope.training import TrainConfig, train
    >>> result = train(TrainConfig(train=["data.jsonl"], out="models/demo"))  # doctest: +SKIP
"""

from __future__ import annotations

from framescope.training.config import DEFAULT_OUT, TrainConfig
from framescope.training.head import label_weights, probe_head
from framescope.training.run import train
from framescope.training.summary import TrainResult, format_summary

__all__ = ["DEFAULT_OUT", "TrainConfig", "TrainResult", "format_summary", "label_weights",
           "probe_head", "train"]
