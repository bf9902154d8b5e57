"""atomic_dir: the new folder replaces the old in one step, and a half-done swap is recovered."""

from __future__ import annotations

from pathlib import Path

import pytest

import framescope.data.io as fio


def _write(folder: Path, text: str) -> None:
    (folder / "a.txt").write_text(text)
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text(text)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_replaces_old_folder_and_leaves_nothing_behind(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(fio, "_exchange", lambda a, b: False)
    target = tmp_path / "m"
    with fio.atomic_dir(target) as tmp:
        _write(tmp, "old")
    with fio.atomic_dir(target) as tmp:
        assert (target / "a.txt").read_text() == "old"  # untouched while the new one is written
        _write(tmp, "new")
    assert (target / "a.txt").read_text() == "new" and (target / "sub" / "b.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_failure_keeps_the_old_folder(tmp_path):
    target = tmp_path / "m"
    with fio.atomic_dir(target) as tmp:
        _write(tmp, "old")
    with pytest.raises(RuntimeError), fio.atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("killed")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_kill_between_the_fallback_renames_is_recovered(tmp_path, monkeypatch):
    """The fallback swap moves the old folder aside first; a kill before the second rename
    leaves it hidden. The next write (or a model load) puts it back, and never loses it."""
    from framescope.modeling import ArtifactError, load_artifact

    target = tmp_path / "m"
    with fio.atomic_dir(target) as tmp:
        _write(tmp, "old")
    aside = tmp_path / ".m.old-4242"
    target.rename(aside)  # the state a kill -9 between the two renames leaves
    assert fio.recover_dir(target) and (target / "a.txt").read_text() == "old" and not aside.exists()
    target.rename(aside)
    monkeypatch.setattr(fio, "_exchange", lambda a, b: False)
    with fio.atomic_dir(target) as tmp:
        assert (target / "a.txt").read_text() == "old"  # recovered before the new write starts
        _write(tmp, "new")
    assert (target / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    target.rename(aside)
    with pytest.raises(ArtifactError, match=r"framescope\.json"):  # restored, then read
        load_artifact(target)
    assert target.is_dir() and not aside.exists()
