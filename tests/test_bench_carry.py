"""bench/carry.py: a backbone carried in float16 parts to a machine with a per-transfer limit,
then joined, checked and upcast back into a standard backbone folder."""

from __future__ import annotations

import json

import pytest
from conftest import bench_script


@pytest.fixture(scope="module")
def carry():
    return bench_script("carry")


def test_pack_in_parts_then_unpack_gives_the_weights_back(carry, tiny_base, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    out = tmp_path / "carried"
    parts = carry.pack_backbone(tiny_base, out, part_bytes=200_000)
    assert len(parts) > 2 and all(p.stat().st_size <= 200_000 for p in parts)
    assert not (out / carry.HALF).exists() and not (out / carry.WEIGHTS).exists()
    assert (out / "config.json").exists() and (out / "tokenizer.json").exists()
    manifest = json.loads((out / carry.MANIFEST).read_text())
    assert [p["name"] for p in manifest["parts"]] == [p.name for p in parts]
    assert sum(p["size"] for p in manifest["parts"]) == manifest["whole"]["size"]
    # about half the bytes of the float32 original travel
    assert manifest["whole"]["size"] < 0.6 * (tiny_base / carry.WEIGHTS).stat().st_size

    assert carry.unpack_backbone(out) == out
    original, back = load_file(tiny_base / carry.WEIGHTS), load_file(out / carry.WEIGHTS)
    assert set(original) == set(back)
    for name, tensor in original.items():
        assert back[name].dtype == tensor.dtype
        torch.testing.assert_close(back[name], tensor, rtol=1e-3, atol=1e-3)
    AutoModel.from_pretrained(out)  # a standard backbone folder again
    assert carry.unpack_backbone(out) == out  # idempotent


def test_unpack_names_a_missing_or_damaged_part(carry, tiny_base, tmp_path):
    out = tmp_path / "carried"
    parts = carry.pack_backbone(tiny_base, out, part_bytes=200_000)
    parts[1].unlink()
    data = bytearray(parts[2].read_bytes())
    data[10] ^= 0xFF
    parts[2].write_bytes(bytes(data))
    with pytest.raises(SystemExit) as err:
        carry.unpack_backbone(out)
    msg = str(err.value)
    assert f"{parts[1]}: missing" in msg and f"{parts[2]}: size or sha256 differs" in msg
    assert not (out / carry.WEIGHTS).exists() and not (out / carry.HALF).exists()


def test_pack_in_one_file_and_refuse_a_folder_without_safetensors(carry, tiny_base, tmp_path):
    files = carry.pack_backbone(tiny_base, tmp_path / "whole")
    assert [f.name for f in files] == [carry.HALF] and not (tmp_path / "whole" / carry.MANIFEST).exists()
    carry.unpack_backbone(tmp_path / "whole")
    assert (tmp_path / "whole" / carry.WEIGHTS).exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match=r"no model\.safetensors"):
        carry.pack_backbone(tmp_path / "empty", tmp_path / "x")
    with pytest.raises(SystemExit, match="another folder"):
        carry.pack_backbone(tiny_base, tiny_base)
    assert (tiny_base / carry.WEIGHTS).exists()
    with pytest.raises(SystemExit, match="run pack first"):
        carry.unpack_backbone(tmp_path / "empty")
