"""Every runtime variant tried for `framescope score` on a CPU: speed (model only) and agreement.

The search behind the ``onnx-opt`` and ``onnx-int8`` precisions of :mod:`framescope.runtime`
(issue 14, "Speed on this CPU"). On the same 2,000 sentences and 2,000 paragraphs as
``bench/score_throughput.py`` it runs each variant through :func:`framescope.inference.predict_proba`
(tokenise, length-sorted batches of 64, forward pass) and records passages/s, the build time and
the decision agreement with PyTorch fp32 using the model's thresholds. Variants:

* PyTorch: fp32, dynamic int8 (all encoder linears; FFN output kept fp32), ``torch.compile``
  (inductor, dynamic shapes; ``--compile``, about a minute to compile).
* ONNX Runtime float32: the plain export, and the export optimised by
  ``onnxruntime.transformers.optimizer`` (fused attention, SkipLayerNorm, BiasGelu), with and
  without thread spinning.
* ONNX Runtime dynamic int8 (``quantize_dynamic`` on the optimised graph): s8/u8 weights,
  per-tensor/per-channel, ``reduce_range`` (7-bit weights, no u8 x s8 saturation without VNNI),
  and sensitive nodes kept float32 (FFN output projections, embeddings, first/last layer).
* ONNX Runtime static int8 (``quantize_static``, QDQ, u8 activations / s8 per-channel weights,
  ``reduce_range``, MinMax calibration on 256 paragraphs of ``data/seed/train.jsonl``) on the
  unfused export, with groups of MatMuls kept float32; and the same on the fused graph, where only
  the weights get quantised (the fused ops' activations are not calibrated; ONNX Runtime runs it as
  MatMulNBits).

Results: ``bench/results/runtime_variants.json``. The machine may be shared: every row carries the
load average seen while it ran; compare rows measured under similar load.

    python bench/runtime_variants.py                    # all variants (~20 min on 2 quiet cores)
    python bench/runtime_variants.py --only torch-fp32 ort-opt --n 500
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import score_throughput as st  # the same passages and machine record

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "runtime_variants.json"
KINDS = {"qkv": r"self/(query|key|value)/MatMul", "attn-out": r"attention/output/dense/MatMul",
         "ffn-in": r"intermediate/dense/MatMul", "ffn-out": r"layer\.\d+/output/dense/MatMul"}


class OrtRunner:
    """A :class:`framescope.runtime.Runner` stand-in around an ONNX Runtime session."""

    def __init__(self, path: Path, spin: bool = True) -> None:
        import onnxruntime as ort
        import torch

        o = ort.SessionOptions()
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        o.intra_op_num_threads = torch.get_num_threads()
        o.inter_op_num_threads = 1
        o.log_severity_level = 3
        if not spin:
            o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def logits(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run(None, {n: batch[n] for n in self.names})[0], dtype=np.float32)


class Bench:
    """Shared state: the model, the passage sets, the fp32 reference and the ONNX files."""

    def __init__(self, model_dir: Path, n: int, workdir: Path) -> None:
        from framescope.inference import passage_budget, token_counter
        from framescope.modeling import load_artifact

        self.art = load_artifact(model_dir)
        texts, _ = st.source_texts()
        self.sets = st.passage_sets(texts, n, token_counter(self.art.tokenizer),
                                    passage_budget(self.art.tokenizer, self.art.max_length))
        self.work = workdir
        self.ref: dict[str, np.ndarray] = {}
        self.rows: list[dict] = []

    def measure(self, name: str, runner, build_s: float, note: str = "") -> dict:
        """Model-only passages/s on each set, agreement with the fp32 reference."""
        from framescope.inference import decisions_of, predict_proba

        art = self.art
        art.runners[("fp32", id(art.model))] = runner  # predict_proba's runner slot for "fp32"
        row: dict = {"variant": name, "build_seconds": round(build_s, 1), "note": note}
        try:
            for set_name, items in self.sets.items():
                predict_proba(art, items[:32], precision="fp32")
                load0 = os.getloadavg()[0]
                t0 = time.perf_counter()
                probs = predict_proba(art, items, precision="fp32")
                secs = time.perf_counter() - t0
                rec = {"passages_per_s": round(len(items) / secs, 1),
                       "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)]}
                if set_name not in self.ref:
                    self.ref[set_name] = probs
                want = decisions_of(art, np.round(self.ref[set_name].astype(np.float64), 7))
                got = decisions_of(art, np.round(probs.astype(np.float64), 7))
                rec["agreement_vs_fp32"] = st.agreement(got, want)
                rec["max_prob_difference"] = round(float(np.abs(probs - self.ref[set_name]).max()), 5)
                row[set_name] = rec
        finally:
            art.runners.clear()
        self.rows.append(row)
        print(f"{name:44s} " + "  ".join(
            f"{s}: {row[s]['passages_per_s']:6.1f}/s {100 * row[s]['agreement_vs_fp32']['label_decisions']:.2f}%"
            for s in self.sets) + f"  build {build_s:.1f}s  load {os.getloadavg()[0]:.2f}", flush=True)
        gc.collect()
        return row


def export_files(b: Bench) -> dict[str, Path]:
    """The plain export (model's attention), the eager-attention export, its optimised graph and
    its pre-processed (unfused, shape-inferred) form for static quantisation."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from framescope.runtime import onnx_model_path

    files = {"plain": onnx_model_path(b.art, "onnx"), "opt": onnx_model_path(b.art, "onnx-opt")}
    import copy
    import warnings

    import torch

    model = copy.deepcopy(b.art.model).eval()
    model.set_attn_implementation("eager")
    files["eager"] = b.work / "eager.onnx"
    ids = torch.tensor([[101, 2023, 2003, 102], [101, 2023, 102, 0]], dtype=torch.long)
    axes = {0: "batch", 1: "seq"}
    with warnings.catch_warnings():  # the same export as framescope.runtime's
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, (ids != 0).long()), str(files["eager"]), dynamo=False,
                          opset_version=17, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], dynamic_axes={"input_ids": dict(axes),
                          "attention_mask": dict(axes), "logits": {0: "batch"}})
    files["pre"] = b.work / "eager-pre.onnx"
    with _quiet():
        quant_pre_process(str(files["eager"]), str(files["pre"]), skip_symbolic_shape=True)
    return files


class _quiet:
    def __enter__(self):
        logging.disable(logging.WARNING)

    def __exit__(self, *exc):
        logging.disable(logging.NOTSET)


def calibration_reader(art, n: int = 256, batch: int = 16):
    """Batches of paragraphs from data/seed/train.jsonl (every k-th, padded per batch)."""
    from onnxruntime.quantization import CalibrationDataReader

    from framescope.data import read_passages
    from framescope.data.passages import paragraph_spans
    from framescope.data.resources import bundled

    texts = []
    for rec in read_passages([bundled("seed", "train.jsonl")], on_error="collect", check_duplicates=False):
        texts.extend(rec.text[s:e] for s, e in paragraph_spans(rec.text))
    texts = texts[:: max(1, len(texts) // n)][:n]
    batches = []
    for i in range(0, len(texts), batch):
        enc = art.tokenizer(texts[i:i + batch], truncation=True, max_length=art.max_length, padding=True,
                            return_tensors="np", return_token_type_ids=False)
        batches.append({k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")})

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(batches)

        def get_next(self):
            return next(self.it, None)

    return Reader


def const_matmuls(path: Path) -> list[str]:
    import onnx

    m = onnx.load(str(path))
    inits = {i.name for i in m.graph.initializer}
    return [n.name for n in m.graph.node if n.op_type == "MatMul" and n.input[1] in inits]


def torch_variants(b: Bench, compile_too: bool) -> None:
    import copy
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    from framescope.runtime import Runner

    t0 = time.perf_counter()
    b.measure("torch-fp32 (reference)", Runner(b.art, "fp32"), time.perf_counter() - t0)
    t0 = time.perf_counter()
    b.measure("torch-int8 (existing int8)", Runner(b.art, "int8"), time.perf_counter() - t0)
    lin = {n for n, x in b.art.model.named_modules()
           if isinstance(x, torch.nn.Linear) and ".encoder." in f".{n}."}
    keep = {n for n in lin if re.search(r"layer\.\d+\.output\.dense$", n)}
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize_dynamic(copy.deepcopy(b.art.model).eval(), lin - keep, dtype=torch.qint8)
    r = Runner(b.art, "fp32")
    r._model = q
    b.measure("torch-int8, FFN output fp32", r, time.perf_counter() - t0)
    if compile_too:
        r = Runner(b.art, "fp32")
        r._model = torch.compile(b.art.model, dynamic=True)
        t0 = time.perf_counter()
        r.logits({"input_ids": np.full((2, 9), 1000, dtype=np.int64),
                  "attention_mask": np.ones((2, 9), dtype=np.int64)})
        b.measure("torch.compile (inductor, dynamic)", r, time.perf_counter() - t0,
                  "build = compile on the first batch")


def ort_float_variants(b: Bench, files: dict[str, Path]) -> None:
    b.measure("ort fp32, plain export (existing onnx)", OrtRunner(files["plain"]), 0)
    b.measure("ort fp32, optimised (onnx-opt)", OrtRunner(files["opt"]), 0)
    b.measure("ort fp32, optimised, no thread spinning", OrtRunner(files["opt"], spin=False), 0)


def ort_dynamic_variants(b: Bench, files: dict[str, Path]) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [n.name for n in onnx.load(str(files["opt"])).graph.node]
    ffn_out = [n for n in names if re.search(KINDS["ffn-out"], n)]
    emb = [n for n in names if n.startswith("EmbedLayerNormalization")]
    first_last = [n for n in names if re.search(r"layer\.(0|5)/", n)] + ["Attention_0", "Attention_5"]
    s8, u8 = QuantType.QInt8, QuantType.QUInt8
    variants = [  # name, weight type, per channel, reduce range, kept float32, op types
        ("s8 per-tensor", s8, False, False, [], None),
        ("s8 per-tensor reduce_range", s8, False, True, [], None),
        ("s8 per-channel", s8, True, False, [], None),
        ("s8 per-channel reduce_range", s8, True, True, [], None),
        ("u8 per-tensor", u8, False, False, [], None),
        ("u8 per-channel", u8, True, False, [], None),
        ("s8 per-channel, FFN out fp32", s8, True, False, ffn_out, None),
        ("s8 pc rr, FFN out fp32", s8, True, True, ffn_out, None),
        ("s8 pc rr, FFN out + embeddings fp32 (onnx-int8)", s8, True, True, ffn_out + emb,
         ["MatMul", "Attention"]),
        ("s8 pc rr, FFN out + first/last layer fp32", s8, True, True, sorted(set(ffn_out + first_last)), None),
    ]
    for name, wt, pc, rr, keep, ops in variants:
        out = b.work / f"dyn-{len(b.rows)}.onnx"
        t0 = time.perf_counter()
        with _quiet():
            quantize_dynamic(str(files["opt"]), str(out), weight_type=wt, per_channel=pc, reduce_range=rr,
                             nodes_to_exclude=keep, op_types_to_quantize=ops,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        b.measure(f"ort dynamic int8: {name}", OrtRunner(out), time.perf_counter() - t0)


def ort_static_variants(b: Bench, files: dict[str, Path]) -> None:
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    reader = calibration_reader(b.art)
    cache = b.work / "calibration.cache"

    def static(name: str, src: Path, keep_kinds: list[str]) -> None:
        nodes = const_matmuls(src)
        keep = [n for n in nodes if any(re.search(KINDS[k], n) for k in keep_kinds)]
        out = b.work / f"static-{len(b.rows)}.onnx"
        t0 = time.perf_counter()
        with _quiet():
            quantize_static(str(src), str(out), reader(), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            per_channel=True, reduce_range=True, op_types_to_quantize=["MatMul"],
                            nodes_to_quantize=[n for n in nodes if n not in keep],
                            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT,
                                           "MatMulConstBOnly": True},
                            calibration_cache_path=str(cache) if src == files["pre"] else None)
        b.measure(f"ort static QDQ: {name}", OrtRunner(out), time.perf_counter() - t0,
                  "calibration: 256 paragraphs of data/seed/train.jsonl, MinMax")

    static("all 36 MatMuls (unfused graph)", files["pre"], [])
    static("FFN out fp32", files["pre"], ["ffn-out"])
    static("FFN out + attention out fp32", files["pre"], ["ffn-out", "attn-out"])
    static("FFN out + QKV fp32", files["pre"], ["ffn-out", "qkv"])
    static("FFN out + FFN in fp32", files["pre"], ["ffn-out", "ffn-in"])
    static("fused graph (weights only, runs as MatMulNBits)", files["opt"], [])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--n", type=int, default=2000, help="passages per set (default 2000)")
    ap.add_argument("--groups", nargs="+", default=["torch", "float", "dynamic", "static"],
                    choices=["torch", "float", "dynamic", "static"])
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to build)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    import torch

    from framescope.runtime import Runner

    started = time.time()
    load_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="fs-variants-") as tmp:
        os.environ["FRAMESCOPE_CACHE"] = str(Path(tmp) / "cache")
        b = Bench(args.model, args.n, Path(tmp))
        print(f"torch threads {torch.get_num_threads()}, load average {load_start}", flush=True)
        if "torch" not in args.groups:
            b.measure("torch-fp32 (reference)", Runner(b.art, "fp32"), 0)
        else:
            torch_variants(b, args.compile)
        files = export_files(b) if {"float", "dynamic", "static"} & set(args.groups) else {}
        if "float" in args.groups:
            ort_float_variants(b, files)
        if "dynamic" in args.groups:
            ort_dynamic_variants(b, files)
        if "static" in args.groups:
            ort_static_variants(b, files)
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "command": "python bench/runtime_variants.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "minutes": round((time.time() - started) / 60, 1),
              "machine": {**st.machine(), "torch_threads": torch.get_num_threads(),
                          "load_average_start": load_start,
                          "load_average_end": [round(x, 2) for x in os.getloadavg()]},
              "versions": st.versions(), "model": str(args.model), "variants": b.rows,
              "notes": ["model only: predict_proba (tokenise, length-sorted batches of 64, forward), "
                        "not the whole score run", "agreement: equal passage x label decisions vs "
                        "PyTorch fp32 with the model's thresholds, on scores rounded as written"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
