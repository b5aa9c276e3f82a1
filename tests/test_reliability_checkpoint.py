"""Checkpoints: atomic writes, selection of the latest complete one, typed errors on bad files."""

import json

import numpy as np
import pytest

from tandem.cli import main
from tandem.io.checkpoint import (FORMAT_VERSION, CheckpointError, latest_checkpoint, list_checkpoints, load_checkpoint,
                                  next_number, save_checkpoint)

STATE = {"params": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, "step": np.int32(7)}
MANIFEST = {"algo": "ppo", "updates": 3}


def test_round_trip_and_rotation(tmp_path):
    for number in range(4):
        assert next_number(tmp_path) == number
        save_checkpoint(tmp_path, number, STATE, MANIFEST, keep=3)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["ckpt_000000000001", "ckpt_000000000002", "ckpt_000000000003"]
    template = {"params": {"w": np.zeros((2, 3), np.float32)}, "step": np.int32(0)}
    state, manifest = load_checkpoint(latest_checkpoint(tmp_path), template, expect_algo="ppo")
    np.testing.assert_array_equal(state["params"]["w"], STATE["params"]["w"])
    assert int(state["step"]) == 7 and manifest["number"] == 3 and manifest["format_version"] == FORMAT_VERSION


def test_partial_checkpoint_is_never_selected(tmp_path):
    save_checkpoint(tmp_path, 100, STATE, MANIFEST)
    (tmp_path / ".tmp-crashed").mkdir()  # a writer killed mid-save leaves only a temporary directory
    half = tmp_path / "ckpt_000000000200"  # or a directory without its manifest
    half.mkdir()
    (half / "state.msgpack").write_bytes(b"partial")
    assert latest_checkpoint(tmp_path).name == "ckpt_000000000100"


def test_a_checkpoint_of_an_older_format_is_refused_by_version(tmp_path):
    """Format 3 named checkpoints by env step (step_<n>): still found, so resuming names the version, never
    silently starting over."""
    old = tmp_path / "step_000000000100"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"format_version": 3, "files": {}}))
    save_checkpoint(tmp_path, 0, STATE, MANIFEST)
    assert latest_checkpoint(tmp_path).name == "ckpt_000000000000"  # the new scheme sorts after the old
    with pytest.raises(CheckpointError, match="format version 3 is not supported"):
        load_checkpoint(old, STATE)


@pytest.mark.parametrize("damage, match", [
    (lambda d: (d / "state.msgpack").write_bytes((d / "state.msgpack").read_bytes()[:-5]), "checksum mismatch"),
    (lambda d: (d / "state.msgpack").unlink(), "state.msgpack: missing"),
    (lambda d: (d / "manifest.json").write_text("{not json"), "not valid JSON"),
    (lambda d: (d / "manifest.json").write_text(json.dumps({**json.loads((d / "manifest.json").read_text()),
                                                            "format_version": 99})), "format version 99"),
    (lambda d: (d / "manifest.json").write_text(json.dumps({**json.loads((d / "manifest.json").read_text()),
                                                            "format_version": 1})), "format version 1 is not"),
    (lambda d: (d / "manifest.json").write_text(json.dumps({**json.loads((d / "manifest.json").read_text()),
                                                            "algo": "sac"})), "algorithm 'sac', expected 'ppo'"),
])
def test_bad_checkpoints_raise_typed_errors_naming_the_file(tmp_path, damage, match):
    path = save_checkpoint(tmp_path, 100, STATE, MANIFEST)
    damage(path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path, STATE, expect_algo="ppo")


def test_flipped_bit_is_detected(tmp_path):
    path = save_checkpoint(tmp_path, 100, STATE, MANIFEST)
    data = bytearray((path / "state.msgpack").read_bytes())
    data[len(data) // 2] ^= 0x01
    (path / "state.msgpack").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(path, STATE)


def test_cli_eval_on_corrupt_checkpoint_exits_1(tmp_path, capsys):
    import tandem

    r = tandem.train("ppo", "gymnax:CartPole-v1", total_steps=512, num_envs=4, num_steps=64, num_minibatches=2,
                     update_epochs=1, eval_episodes=1, tensorboard=False, run_dir=str(tmp_path / "run"))
    ckpt = latest_checkpoint(r.run_dir / "checkpoints")
    (ckpt / "state.msgpack").write_bytes(b"\x00" * 10)
    assert main(["eval", str(r.run_dir)]) == 1
    err = capsys.readouterr().err
    assert "state.msgpack" in err and "Traceback" not in err
