"""What a training run reports: the result object and the one-screen summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = ["TrainResult", "format_summary"]


@dataclass
class TrainResult:
    """What :func:`train` did: the artifact folder, its metadata and timings."""

    path: Path
    meta: dict[str, Any]
    seconds: float
    artifact: Artifact | None = None
    #: False on the other processes of a distributed run (only the main one saves and reports)
    main_process: bool = True

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.get("metrics", {})

    def summary(self) -> str:
        """The one-screen summary printed at the end of ``framescope train``."""
        return format_summary(self.meta, self.path, self.seconds)


def _f(v: Any, nd: int = 3) -> str:
    return "  -  " if v is None else f"{v:.{nd}f}"


def format_summary(meta: dict[str, Any], path: Path | str, seconds: float) -> str:
    """A one-screen text summary of a trained artifact (time, best epoch, dev/test F1, labels)."""
    tr = meta.get("training", {})
    data = meta.get("data", {})
    m = meta.get("metrics", {})
    dev, test = m.get("dev", {}), m.get("test")
    lines = [f"framescope train: {path}  ({len(meta['taxonomy']['labels'])} labels, "
             f"{meta.get('problem_type')}, base {meta.get('base_model', {}).get('name')}, "
             f"{tr.get('precision')} on {tr.get('device')})"]
    rep = sum(int(r.get("used", r.get("passages", 0))) for r in data.get("replay") or [])
    dev_src = "carved from train" if (data.get("dev") or {}).get("carved_from") else "given"
    lines.append(f"data     train {tr.get('train_passages')} passages"
                 + (f" + {rep} replayed" if rep else "")
                 + f", dev {dev.get('units')} ({dev_src})"
                 + (f", test {test.get('units')}" if test else ""))
    stop = tr.get("stop_reason") or ("early stop" if tr.get("stopped_early") else "all epochs")
    cap = tr.get("config", {}).get("epochs")
    lines.append(f"time     {seconds:.1f} s in all, training {tr.get('train_seconds', 0):.1f} s; best "
                 f"epoch {tr.get('best_epoch')} of {tr.get('epochs_run')}"
                 + (f" (cap {cap:g})" if isinstance(cap, (int, float)) else "")
                 + f"; {stop}")
    lines.append(f"dev      macro-F1 {_f(dev.get('macro_f1'))}  micro-F1 {_f(dev.get('micro_f1'))}  "
                 f"(thresholds tuned on dev: optimistic; at 0.5: macro {_f(dev.get('macro_f1_at_0.5'))})")
    if test:
        lines.append(f"test     macro-F1 {_f(test.get('macro_f1'))}  micro-F1 {_f(test.get('micro_f1'))}  "
                     "(held out, stored thresholds)")
    per_dev = dev.get("per_label", {})
    per_test = (test or {}).get("per_label", {})
    if per_dev:
        w = max(len(k) for k in per_dev) + 2
        lines.append(f"{'label':<{w}}{'dev n':>6}{'thr':>7}{'':>3}{'dev F1':>8}{'test F1':>9}")
        for lab, v in per_dev.items():
            src = "*" if v.get("threshold_source") == "default" else ""
            lines.append(f"{lab:<{w}}{v.get('support', 0):>6}{_f(v.get('threshold'), 2):>7}{src:>3}"
                         f"{_f(v.get('f1')):>8}{_f(per_test.get(lab, {}).get('f1')):>9}")
        if any(v.get("threshold_source") == "default" for v in per_dev.values()):
            lines.append(f"* fewer than {tr.get('config', {}).get('min_dev_positives')} dev positives: "
                         "threshold left at 0.5")
    if meta.get("lineage"):
        lines.append("lineage  " + " -> ".join(str(x.get("name")) for x in meta["lineage"])
                     + f" -> {meta.get('name')}")
    lines.append(f"saved    {path}  (model card {Path(path) / 'README.md'})")
    return "\n".join(lines)
