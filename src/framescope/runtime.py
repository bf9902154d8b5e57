"""Inference runtimes: one forward pass of a classifier at a chosen precision.

``fp32``  PyTorch float32 (the reference).
``bf16``  PyTorch with bfloat16 autocast. Only fast on CPUs with native bf16 (AVX-512 BF16 or
          AMX); on AVX2-only CPUs it is several times *slower* than fp32 (measured, see
          ``docs/scoring.md``).
``auto``  ``bf16`` where :func:`cpu_supports_bf16` says the CPU has native bf16, else ``fp32``.
``int8``  dynamic int8 quantisation of every ``nn.Linear`` (``torch.ao.quantization
          .quantize_dynamic``); opt-in, approximate: measure its agreement with fp32.
``onnx``  the model exported to ONNX (float32) and run by ONNX Runtime; opt-in; needs the
          ``onnxruntime`` and ``onnx`` packages. The export is cached under
          ``$FRAMESCOPE_CACHE`` (default ``~/.cache/framescope``) keyed by the weights' fingerprint.

A :class:`Runner` maps a padded batch of token ids to float32 logits; runners are built once per
artifact and precision and cached on the artifact.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope.data.errors import DataError
from framescope.data.io import cache_dir

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = [
    "PRECISIONS",
    "Runner",
    "RuntimeUnavailable",
    "cpu_supports_bf16",
    "get_runner",
    "precision_note",
    "resolve_precision",
    "weights_key",
]

logger = logging.getLogger(__name__)

#: Values accepted by ``--precision``.
PRECISIONS = ("auto", "fp32", "bf16", "int8", "onnx")


class RuntimeUnavailable(DataError):
    """An opt-in runtime (ONNX Runtime, Ray) is not installed."""


def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """The concrete precision for ``precision`` (``auto`` becomes ``bf16`` or ``fp32``).

    Raises:
        ValueError: for an unknown precision.

    Example:
        >>> resolve_precision("fp32")
        'fp32'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"The 'precision' parameter must be one of {', '.join(PRECISIONS)}. "
                         f"Got {precision!r} instead.")
    if precision == "auto":
        return "bf16" if cpu_supports_bf16() else "fp32"
    return precision


def precision_note(precision: str) -> str:
    """A one-line explanation of what ``precision`` resolves to on this CPU."""
    resolved = resolve_precision(precision)
    if precision == "bf16" and not cpu_supports_bf16():
        return ("bf16 (warning: this CPU has no native bf16; bf16 autocast measured about 5x "
                "slower than fp32 here, use --precision auto)")
    if precision != "auto":
        return resolved
    if cpu_supports_bf16():
        return "bf16 (auto: this CPU has native bf16 arithmetic)"
    return "fp32 (auto: this CPU has no native bf16, where bf16 autocast is slower than fp32)"


class Runner:
    """Runs a classification model's forward pass on padded numpy batches.

    Args:
        artifact: the loaded classifier.
        precision: a concrete precision (``fp32``, ``bf16``, ``int8`` or ``onnx``).
    """

    def __init__(self, artifact: Artifact, precision: str) -> None:
        self.precision = resolve_precision(precision)
        self.input_names = ["input_ids", "attention_mask"]
        self._session: Any = None
        self._model: Any = artifact.model
        if self.precision == "int8":
            self._model = _quantize_int8(artifact.model)
        elif self.precision == "onnx":
            self._session = _onnx_session(artifact)

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Float32 logits ``(batch, n_labels)`` for int64 ``input_ids`` and ``attention_mask``."""
        if self._session is not None:
            feed = {name: batch[name] for name in self.input_names}
            return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
        import torch

        inputs = {name: torch.from_numpy(batch[name]) for name in self.input_names}
        model = self._model
        with torch.inference_mode():
            if self.precision == "bf16":
                with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                    out = model(**inputs).logits
            else:
                out = model(**inputs).logits
            return out.float().numpy()


def get_runner(artifact: Artifact, precision: str) -> Runner:
    """The cached :class:`Runner` of ``artifact`` at ``precision`` (built on first use)."""
    resolved = resolve_precision(precision)
    cache: dict[tuple[str, int], Runner] = artifact.runners
    key = (resolved, id(artifact.model))  # a replaced model (further training) gets new runners
    runner = cache.get(key)
    if runner is None:
        artifact.model.eval()
        runner = cache[key] = Runner(artifact, resolved)
    return runner


def _quantize_int8(model: Any) -> Any:
    import copy

    import torch
    from torch.ao.quantization import quantize_dynamic

    engines = torch.backends.quantized.supported_engines
    for engine in ("x86", "fbgemm", "onednn", "qnnpack"):
        if engine in engines:
            torch.backends.quantized.engine = engine
            break
    from framescope.modeling import HEAD_PREFIXES

    # the transformer's linear layers (nearly all the compute); the small pooler and
    # classification head stay float32, where int8 rounding would go straight into the logits
    keep = (*HEAD_PREFIXES, "pooler")
    names = {name for name, mod in model.named_modules()
             if isinstance(mod, torch.nn.Linear) and not any(part in keep for part in name.split("."))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(copy.deepcopy(model).eval(), names or {torch.nn.Linear},
                                     dtype=torch.qint8)
    return quantized.eval()


def weights_key(artifact: Artifact) -> str:
    """A short key of the model's weights: the artifact's recorded fingerprint, else a hash of
    its state dict (a model built in memory)."""
    if artifact.fingerprint:
        return artifact.fingerprint.split(":")[-1]
    digest = hashlib.sha256()
    for name, tensor in sorted(artifact.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _onnx_session(artifact: Artifact) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise RuntimeUnavailable("precision 'onnx' needs ONNX Runtime: pip install 'framescope[onnx]' "
                           "(onnxruntime and onnx)") from exc
    path = cache_dir() / "onnx" / f"{weights_key(artifact)}.onnx"
    if not path.exists():
        _export_onnx(artifact, path)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    import torch

    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export_onnx(artifact: Artifact, path: Path) -> None:
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError as exc:
        raise RuntimeUnavailable("precision 'onnx' exports the model with torch.onnx, which needs the "
                           "onnx package: pip install 'framescope[onnx]' (onnxruntime and onnx)") from exc
    import torch

    from framescope.data.io import atomic_path

    logger.info("exporting the model to ONNX (once per model): %s", path)
    ids = torch.tensor([[101, 2023, 2003, 102], [101, 2023, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    axes = {0: "batch", 1: "seq"}
    model = artifact.model.eval()
    with atomic_path(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (ids, mask), str(tmp), dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": dict(axes), "attention_mask": dict(axes),
                          "logits": {0: "batch"}},
        )
