"""Build hook: ship the bundled data (taxonomies, seed dataset, sample feeds) inside the wheel.

The files live once, in the repository's ``data/`` folder; building a wheel copies them to
``framescope/data/bundled/``, where :mod:`framescope.data.resources` finds them in an installed
package (a source checkout reads ``data/`` directly). Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED_PARTS = ("taxonomies", "seed", "samples")  # framescope.data.resources.BUNDLED_PARTS


class BuildPyWithData(build_py):
    """``build_py`` that also copies ``data/{taxonomies,seed,samples}`` into the package."""

    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "data"
        target = Path(self.build_lib) / "framescope" / "data" / "bundled"
        for part in BUNDLED_PARTS:
            if (source / part).is_dir():
                shutil.copytree(source / part, target / part, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("parts", ".*"))


setup(cmdclass={"build_py": BuildPyWithData})
