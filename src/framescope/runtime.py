"""Inference runtimes: one forward pass of a classifier at a chosen precision.

``fp32``       PyTorch float32 (the reference).
``bf16``       PyTorch with bfloat16 autocast. Only fast on CPUs with native bf16 (AVX-512 BF16 or
               AMX); on AVX2-only CPUs it is several times *slower* than fp32 (measured, see
               ``docs/scoring.md``).
``int8``       dynamic int8 quantisation of every ``nn.Linear`` (``torch.ao.quantization
               .quantize_dynamic``); opt-in, approximate: measure its agreement with fp32.
``onnx``       the model exported to ONNX (float32) and run by ONNX Runtime; opt-in.
``onnx-opt``   the ONNX export rewritten by ONNX Runtime's transformer optimiser
               (``onnxruntime.transformers.optimizer``: fused attention, embedding + layer norm,
               skip layer norm, bias + GELU), float32; same decisions as ``fp32``. Checked
               against PyTorch on a probe batch when it is built.
``onnx-int8``  ``onnx-opt`` with dynamic int8 matrix multiplications (``onnxruntime.quantization
               .quantize_dynamic``: per-channel 7-bit weights, which do not saturate the u8 x s8
               products of CPUs without VNNI). The feed-forward output projections, the
               embeddings, the pooler and the classification head stay float32 (the FFN output
               projection reads GELU outputs whose long tail int8 cannot hold: quantising it
               alone changed ~1% of decisions). Opt-in and approximate: a passage's scores depend
               slightly on the other passages in its batch (activation scales are per batch).
``auto``       ``bf16`` where :func:`cpu_supports_bf16` says the CPU has native bf16; elsewhere
               ``onnx-opt`` when ``onnxruntime`` and ``onnx`` are installed (measured faster than
               ``fp32`` on an AVX2 CPU, same decisions), else ``fp32``. It depends only on the CPU's
               flags and the installed packages, so it is the same on every run of a machine.

The ONNX precisions need ``pip install 'framescope[onnx]'`` (onnxruntime and onnx). Their models
are built once per model and cached under ``$FRAMESCOPE_CACHE/onnx`` (default
``~/.cache/framescope``), keyed by the weights' fingerprint and the recipe (``onnx-opt`` and
``onnx-int8`` also by the ONNX Runtime version), each written atomically.

A :class:`Runner` maps a padded batch of token ids to float32 logits; runners are built once per
artifact and precision and cached on the artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope.data.errors import DataError
from framescope.data.io import cache_dir

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = [
    "ONNX_PRECISIONS",
    "PRECISIONS",
    "Runner",
    "RuntimeUnavailable",
    "cpu_supports_bf16",
    "get_runner",
    "onnx_model_path",
    "onnx_runtime_available",
    "precision_note",
    "resolve_precision",
    "weights_key",
]

logger = logging.getLogger(__name__)

#: Values accepted by ``--precision``.
PRECISIONS = ("auto", "fp32", "bf16", "int8", "onnx", "onnx-opt", "onnx-int8")
#: The precisions run by ONNX Runtime.
ONNX_PRECISIONS = ("onnx", "onnx-opt", "onnx-int8")
#: What ``auto`` picks on a CPU without native bf16 when ONNX Runtime is installed.
AUTO_ONNX = "onnx-opt"
#: Recipe versions: a change to how a cached model is made bumps its version (a new cache file).
RECIPES = {"onnx-opt": "opt1", "onnx-int8": "int8v1"}
#: Largest |logit difference| from PyTorch float32 that an ``onnx-opt`` model may show on the
#: probe batch (float32 rounding is ~1e-6; a wrong fusion is off by far more).
OPT_TOLERANCE = 1e-3


class RuntimeUnavailable(DataError):
    """An opt-in runtime (ONNX Runtime, Ray) is not installed."""


def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def onnx_runtime_available() -> bool:
    """True when ``onnxruntime`` and ``onnx`` can be imported (checked without importing them)."""
    import importlib.util

    for name in ("onnxruntime", "onnx"):
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
            return False
    return True


def resolve_precision(precision: str) -> str:
    """The concrete precision for ``precision`` (``auto`` becomes ``bf16``, ``onnx-opt`` or
    ``fp32``, see the module docstring).

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
        if cpu_supports_bf16():
            return "bf16"
        return AUTO_ONNX if onnx_runtime_available() else "fp32"
    return precision


def precision_note(precision: str) -> str:
    """A one-line explanation of what ``precision`` resolves to on this CPU."""
    resolved = resolve_precision(precision)
    if precision == "bf16" and not cpu_supports_bf16():
        return ("bf16 (warning: this CPU has no native bf16; bf16 autocast measured about 5x "
                "slower than fp32 here, use --precision auto)")
    if precision == "onnx-int8":
        return ("onnx-int8 (approximate: int8 matrix multiplications change a small share of "
                "decisions; check its agreement with fp32 on your data)")
    if precision != "auto":
        return resolved
    if resolved == "bf16":
        return "bf16 (auto: this CPU has native bf16 arithmetic)"
    if resolved == AUTO_ONNX:
        return (f"{AUTO_ONNX} (auto: this CPU has no native bf16; ONNX Runtime with fused transformer "
                "kernels, float32, the same decisions as fp32 and faster here)")
    return ("fp32 (auto: this CPU has no native bf16, where bf16 autocast is slower than fp32; "
            f"onnxruntime/onnx are not installed, so the faster {AUTO_ONNX} is not used: "
            "pip install 'framescope[onnx]')")


class Runner:
    """Runs a classification model's forward pass on padded numpy batches.

    Args:
        artifact: the loaded classifier.
        precision: a concrete precision (``fp32``, ``bf16``, ``int8``, ``onnx``, ``onnx-opt`` or
            ``onnx-int8``).
    """

    def __init__(self, artifact: Artifact, precision: str) -> None:
        self.precision = resolve_precision(precision)
        self.input_names = ["input_ids", "attention_mask"]
        self._session: Any = None
        self._model: Any = artifact.model
        if self.precision == "int8":
            self._model = _quantize_int8(artifact.model)
        elif self.precision in ONNX_PRECISIONS:
            self._session = _session(onnx_model_path(artifact, self.precision))

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Float32 logits ``(batch, n_labels)`` for int64 ``input_ids`` and ``attention_mask``."""
        if self._session is not None:
            feed = {name: batch[name] for name in self.input_names}
            return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
        import torch

        model = self._model
        device = next(model.parameters()).device  # a model left on a GPU (e.g. just trained) stays there
        inputs = {name: torch.from_numpy(batch[name]).to(device) for name in self.input_names}
        with torch.inference_mode():
            if self.precision == "bf16":
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                    out = model(**inputs).logits
            else:
                out = model(**inputs).logits
            return out.float().cpu().numpy()


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


# --------------------------------------------------------------------------- ONNX models


def _require_onnx(precision: str) -> None:
    if not onnx_runtime_available():
        raise RuntimeUnavailable(f"precision {precision!r} needs ONNX Runtime and onnx: "
                                 "pip install 'framescope[onnx]' (onnxruntime and onnx)")


def onnx_model_path(artifact: Artifact, precision: str) -> Path:
    """The cached ONNX model of ``artifact`` for an ONNX ``precision``, built on first use.

    ``onnx`` is the plain export; ``onnx-opt`` and ``onnx-int8`` are built from the previous
    step's file, so each step runs once per model. A build logs a line (it takes seconds to a
    minute); every file is written atomically.

    Raises:
        RuntimeUnavailable: when onnxruntime or onnx is not installed.
        DataError: when the optimised model does not reproduce PyTorch's logits.
    """
    if precision not in ONNX_PRECISIONS:
        raise ValueError(f"The 'precision' parameter must be one of {', '.join(ONNX_PRECISIONS)}. "
                         f"Got {precision!r} instead.")
    _require_onnx(precision)
    folder = cache_dir() / "onnx"
    key = weights_key(artifact)
    if precision == "onnx":
        path = folder / f"{key}.onnx"
        if not path.exists():
            _export_onnx(artifact, path)
        return path
    import onnxruntime as ort

    version = ".".join(ort.__version__.split(".")[:2])
    opt = folder / f"{key}.{RECIPES['onnx-opt']}-ort{version}.onnx"
    if not opt.exists():
        _build_optimised(artifact, opt)
    if precision == "onnx-opt":
        return opt
    path = folder / f"{key}.{RECIPES['onnx-int8']}-ort{version}.onnx"
    if not path.exists():
        _build_int8(artifact, opt, path)
    return path


def _session(path: Path) -> Any:
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = torch.get_num_threads()  # one per physical core, or --threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export(model: Any, path: Path) -> None:
    """``torch.onnx.export`` (TorchScript exporter) with dynamic batch and sequence axes."""
    import torch

    ids = torch.tensor([[101, 2023, 2003, 102], [101, 2023, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    axes = {0: "batch", 1: "seq"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (ids, mask), str(path), dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": dict(axes), "attention_mask": dict(axes),
                          "logits": {0: "batch"}},
        )


def _export_onnx(artifact: Artifact, path: Path) -> None:
    from framescope.data.io import atomic_path

    logger.info("exporting the model to ONNX (once per model): %s", path)
    with atomic_path(path, suffix=".onnx") as tmp:
        _export(artifact.model.eval(), tmp)


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Silence the ONNX Runtime tools' log lines (they log through the root logger)."""
    before = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(before)


def _build_optimised(artifact: Artifact, path: Path) -> None:
    """Export with eager attention (the pattern the fusions match), run ONNX Runtime's BERT
    optimiser, check the result against PyTorch, then publish it."""
    import copy
    import tempfile

    from onnxruntime.transformers.optimizer import optimize_model

    from framescope.data.io import atomic_path

    t0 = time.perf_counter()
    logger.info("building the optimised ONNX model (once per model; export, fuse, check): %s", path)
    config = artifact.model.config
    model = copy.deepcopy(artifact.model).eval()  # the artifact's own model keeps its attention
    if hasattr(model, "set_attn_implementation"):
        with contextlib.suppress(Exception):  # models without an eager path export as they are
            model.set_attn_implementation("eager")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmpdir:
        raw = Path(tmpdir) / "model.onnx"
        try:
            _export(model, raw)
            del model
            with _quiet_logging(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optimised = optimize_model(str(raw), model_type="bert",
                                           num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
                                           hidden_size=int(getattr(config, "hidden_size", 0) or 0))
                fused = {k: v for k, v in optimised.get_fused_operator_statistics().items() if v}
        except Exception as exc:  # an architecture the exporter or the optimiser cannot handle
            raise DataError(f"could not build the optimised ONNX model of {config.model_type!r} "
                            f"({type(exc).__name__}: {exc}); use --precision fp32 or onnx") from exc
        with atomic_path(path, suffix=".onnx") as tmp:
            with _quiet_logging():
                optimised.save_model_to_file(str(tmp))
            diff = _max_logit_difference(artifact, tmp)
            if not diff <= OPT_TOLERANCE:
                raise DataError(f"the optimised ONNX model does not reproduce the PyTorch model: "
                                f"largest logit difference {diff:.3g} on a probe batch, expected at most "
                                f"{OPT_TOLERANCE:g} (fusions {fused}); use --precision fp32 or onnx")
    logger.info("optimised ONNX model ready in %.1f s (fused: %s; logits within %.1g of PyTorch)",
                time.perf_counter() - t0, ", ".join(f"{k} {v}" for k, v in fused.items()) or "none",
                diff)


def _build_int8(artifact: Artifact, source: Path, path: Path) -> None:
    """Dynamic int8 quantisation of ``source`` (the optimised model): per-channel 7-bit weights
    for the fused attention and the matrix multiplications, except the FFN output projections
    (weights of shape intermediate x hidden), which stay float32 with the embeddings, pooler and
    head (Gemm nodes are not quantised)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from framescope.data.io import atomic_path

    t0 = time.perf_counter()
    logger.info("building the int8 ONNX model (once per model): %s", path)
    model = onnx.load(str(source))
    keep = _ffn_output_nodes(model, artifact.model.config)
    with atomic_path(path, suffix=".onnx") as tmp, _quiet_logging(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(model, str(tmp), op_types_to_quantize=["MatMul", "Attention"],
                         per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
                         nodes_to_exclude=keep,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT,
                                        "MatMulConstBOnly": True})
    logger.info("int8 ONNX model ready in %.1f s (%d FFN output projections kept float32)",
                time.perf_counter() - t0, len(keep))


def _ffn_output_nodes(model: Any, config: Any) -> list[str]:
    """Names of the MatMul nodes whose constant weight maps the intermediate size back to the
    hidden size: the feed-forward output projections."""
    from onnx import numpy_helper

    hidden = int(getattr(config, "hidden_size", 0) or 0)
    inner = int(getattr(config, "intermediate_size", 0) or 0)
    shapes = {init.name: tuple(numpy_helper.to_array(init).shape) for init in model.graph.initializer
              if len(init.dims) == 2}
    return [node.name for node in model.graph.node
            if node.op_type == "MatMul" and shapes.get(node.input[1]) == (inner, hidden)]


def _probe_batch(artifact: Artifact) -> dict[str, np.ndarray]:
    """A fixed batch of three sequences of different lengths (padded), from the vocabulary."""
    vocab = int(getattr(artifact.model.config, "vocab_size", 1000) or 1000)
    rng = np.random.default_rng(0)
    ids = rng.integers(min(1000, vocab // 2), vocab, size=(3, 24)).astype(np.int64)
    mask = np.ones_like(ids)
    for row, length in ((1, 17), (2, 6)):
        ids[row, length:] = 0
        mask[row, length:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def _max_logit_difference(artifact: Artifact, path: Path) -> float:
    import torch

    batch = _probe_batch(artifact)
    session = _session(path)
    got = np.asarray(session.run(None, batch)[0], dtype=np.float64)
    with torch.inference_mode():
        want = artifact.model.eval()(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits
    return float(np.abs(got - want.double().numpy()).max())
