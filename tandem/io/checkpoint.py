"""Self-describing, crash-safe checkpoints: ``manifest.json`` + ``state.msgpack`` in one directory.

The state is serialised with flax's msgpack (plain arrays, never pickle) and loaded into a template
built from the config, so loading runs no stored code. The directory is written under a temporary
name, flushed, then renamed into place: a crash leaves no half checkpoint that looks whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from tandem.errors import TandemRuntimeError

FORMAT_VERSION = 2  # 2: runner states carry the acting state (exploration noise)
STATE_FILE = "state.msgpack"
MANIFEST_FILE = "manifest.json"
_NAME = re.compile(r"^step_(\d{12})$")


class CheckpointError(TandemRuntimeError):
    """A checkpoint that cannot be used: missing, corrupt, foreign or from a future format."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(ckpt_root: str | Path, env_steps: int, state, manifest: dict, keep: int = 3) -> Path:
    """Write ``ckpt_root/step_<env_steps>`` atomically and keep the newest ``keep`` checkpoints."""
    from flax import serialization

    ckpt_root = Path(ckpt_root)
    ckpt_root.mkdir(parents=True, exist_ok=True)
    data = serialization.to_bytes(state)
    final = ckpt_root / f"step_{int(env_steps):012d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=ckpt_root))
    try:
        with open(tmp / STATE_FILE, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        full = {**manifest, "format_version": FORMAT_VERSION, "env_steps": int(env_steps),
                "state_sha256": hashlib.sha256(data).hexdigest(), "state_bytes": len(data)}
        with open(tmp / MANIFEST_FILE, "w") as f:
            json.dump(full, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(ckpt_root)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"could not write checkpoint {final}: {e.strerror or e}. The previous checkpoint is kept.") from None
    for old in list_checkpoints(ckpt_root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(ckpt_root: str | Path) -> list[Path]:
    """Complete checkpoints (a manifest is present), oldest first. Temporary directories are ignored."""
    root = Path(ckpt_root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if _NAME.match(p.name) and (p / MANIFEST_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(ckpt_root: str | Path) -> Path | None:
    found = list_checkpoints(ckpt_root)
    return found[-1] if found else None


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path / MANIFEST_FILE}: missing; {path} is not a complete checkpoint.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path / MANIFEST_FILE}: not valid JSON ({e}).") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path / MANIFEST_FILE}: format version {version!r} is not supported by this tandem "
                              f"(it reads format {FORMAT_VERSION}; older checkpoints hold a different state layout).")
    return manifest


def load_checkpoint(path: str | Path, template, expect_algo: str | None = None):
    """Load a checkpoint into ``template`` (a state of the same structure). Returns (state, manifest)."""
    from flax import serialization

    path = Path(path)
    manifest = read_manifest(path)
    if expect_algo is not None and manifest.get("algo") != expect_algo:
        raise CheckpointError(f"{path}: checkpoint of algorithm {manifest.get('algo')!r}, expected {expect_algo!r}.")
    try:
        data = (path / STATE_FILE).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path / STATE_FILE}: missing.") from None
    if hashlib.sha256(data).hexdigest() != manifest.get("state_sha256"):
        raise CheckpointError(f"{path / STATE_FILE}: checksum mismatch (truncated or corrupted file).")
    try:
        state = serialization.from_bytes(template, data)
    except Exception as e:  # msgpack/structure errors: report, load nothing
        raise CheckpointError(f"{path / STATE_FILE}: does not match this configuration ({type(e).__name__}: {e}).") from None
    return state, manifest
