"""Carry a backbone to a machine that takes a limited number of bytes per transfer.

    python bench/carry.py pack --base mpnet --out bench/.cache/carry/mpnet --part-mib 48
    python bench/carry.py unpack bench/.cache/carry/mpnet      # on the other machine

The lent GPU machine receives at most 64 MiB of ignored files per call, and all-mpnet-base-v2 is
438 MB in float32 (219 MB in float16), the working tree travels in the same
64 MiB. ``pack`` writes a float16 copy of the weights (half the
bytes), cut into parts of at most ``--part-mib`` MiB, beside the backbone's config and tokenizer
files and a manifest (``carry.json``) holding each part's size and sha256. Each part then travels
in its own call (files a call carried stay on a warm machine), and ``unpack`` there checks every
part against the manifest, joins them, and writes a float32 ``model.safetensors`` atomically, so
the folder is a standard Hugging Face backbone for ``framescope train --base FOLDER``. Weights are
read and written with safetensors only.

Runs of the device session go:

    run --carry bench/.cache/carry/mpnet/model.fp16.safetensors.001 ... 'true'   # one part a call
    ...
    run --carry <data bundle> <last part> 'python bench/carry.py unpack bench/.cache/carry/mpnet && ...'

The machine goes back after about 30 s idle, so the calls must follow one another at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "carry.json"
HALF = "model.fp16.safetensors"
WEIGHTS = "model.safetensors"
MIB = 1024 * 1024


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def pack_backbone(src: Path, dst: Path, *, part_bytes: int | None = None) -> list[Path]:
    """Write ``src``'s config and tokenizer files and a float16 copy of its weights to ``dst``,
    the weights cut into parts of at most ``part_bytes`` bytes when given. Returns the weight files."""
    from safetensors.torch import load_file, save_file

    if not (src / WEIGHTS).is_file():
        raise SystemExit(f"{src}: no {WEIGHTS} (only safetensors weights are carried)")
    if dst.resolve() == src.resolve():
        raise SystemExit(f"{dst}: --out must be another folder than the backbone's own")
    if part_bytes is not None and part_bytes < 1:
        raise SystemExit("--part-mib must be positive")
    dst.mkdir(parents=True, exist_ok=True)
    for old in [*dst.glob(f"{HALF}*"), dst / MANIFEST, dst / WEIGHTS]:
        old.unlink(missing_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.suffix != ".safetensors" and f.name != "README.md":
            shutil.copy2(f, dst / f.name)
    half = dst / HALF
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(src / WEIGHTS).items()}
    save_file(tensors, half)
    whole = {"size": half.stat().st_size, "sha256": _sha256(half)}
    if part_bytes is None:
        return [half]
    parts: list[Path] = []
    with half.open("rb") as f:
        for i, block in enumerate(iter(lambda: f.read(part_bytes), b""), start=1):
            part = dst / f"{HALF}.{i:03d}"
            part.write_bytes(block)
            parts.append(part)
    half.unlink()
    manifest = {"weights": HALF, "whole": whole,
                "parts": [{"name": p.name, "size": p.stat().st_size, "sha256": _sha256(p)} for p in parts]}
    (dst / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return parts


def unpack_backbone(folder: Path) -> Path:
    """Make ``folder`` a standard backbone: join the float16 parts (checked against the manifest)
    when it was carried in parts, then write float32 ``model.safetensors`` atomically. Idempotent."""
    from safetensors.torch import load_file, save_file

    from framescope.data.io import atomic_path

    if (folder / WEIGHTS).is_file():
        return folder
    half = folder / HALF
    manifest_path = folder / MANIFEST
    if not half.is_file() and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        problems = []
        for part in manifest["parts"]:
            p = folder / part["name"]
            if not p.is_file():
                problems.append(f"{p}: missing (carry it in a call of its own)")
            elif p.stat().st_size != part["size"] or _sha256(p) != part["sha256"]:
                problems.append(f"{p}: size or sha256 differs from {manifest_path} (carry it again)")
        if problems:
            raise SystemExit("cannot join the weights:\n  " + "\n  ".join(problems))
        with atomic_path(half) as tmp:
            with tmp.open("wb") as out:
                for part in manifest["parts"]:
                    with (folder / part["name"]).open("rb") as f:
                        shutil.copyfileobj(f, out, MIB)
            if _sha256(tmp) != manifest["whole"]["sha256"]:
                raise SystemExit(f"{folder}: the joined weights do not match {manifest_path}")
    if not half.is_file():
        raise SystemExit(f"{folder}: neither {WEIGHTS}, {HALF} nor {MANIFEST} with its parts; run pack first")
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in load_file(half).items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    pk = sub.add_parser("pack", help="write a float16 copy of a backbone, cut into parts")
    pk.add_argument("--base", default=None, help="'minilm', 'mpnet' or a backbone folder (default: minilm)")
    pk.add_argument("--out", type=Path, required=True, help="the folder to write (keep it git-ignored)")
    pk.add_argument("--part-mib", type=float, default=48.0,
                    help="largest part in MiB (default 48: with the ~7 MiB working tree, under the 64 MiB "
                         "a call carries); 0: one file")
    up = sub.add_parser("unpack", help="join the parts and write float32 model.safetensors")
    up.add_argument("folder", type=Path)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))  # framescope from this checkout where it is not installed
    if args.cmd == "pack":
        from framescope.modeling import resolve_base

        files = pack_backbone(Path(resolve_base(args.base)), args.out,
                              part_bytes=int(args.part_mib * MIB) if args.part_mib else None)
        for f in files:
            print(f"{f}  {f.stat().st_size / MIB:.1f} MiB")
    else:
        print(unpack_backbone(args.folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
