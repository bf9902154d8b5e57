"""framescope: score news passages for framing.

Fine-tune a transformer on labelled passages (:mod:`framescope.training`), evaluate it with
honest metrics (:mod:`framescope.metrics`), batch-score news feeds (:mod:`framescope.scoring`)
and report (:mod:`framescope.reports`). All of them read data through :mod:`framescope.data`.
Nothing heavy is imported here: submodules load torch and transformers when used.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
