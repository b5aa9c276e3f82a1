"""Episode videos (io/video.py): ``tandem eval --video``, ``--capture-video`` at each checkpoint, the PNG strip
where video encoding is unavailable, and environments that cannot render refused before anything runs."""

from __future__ import annotations

import json

import imageio.v2 as imageio
import numpy as np
import pytest

import tandem
from tandem.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short CartPole run with --capture-video (checkpoints every 2 updates)."""
    d = tmp_path_factory.mktemp("video") / "run"
    tandem.train("ppo", "CartPole-v1", run_dir=str(d), num_envs=2, num_steps=64, num_minibatches=2,
                 update_epochs=1, total_steps=512, checkpoint_every=2, eval_episodes=1, capture_video=True,
                 tensorboard=False)
    return d


def test_capture_video_writes_one_episode_per_checkpoint(run):
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir() if p.is_dir())
    videos = sorted((run / "videos").iterdir())
    assert len(checkpoints) >= 1
    steps = sorted(int(v.stem.split("_")[1]) for v in videos)   # 4 updates of 128 steps, a checkpoint every 2
    assert steps == [256, 512] and all(v.suffix == ".mp4" for v in videos)
    frames = imageio.mimread(videos[-1], memtest=False)
    assert len(frames) >= 9 and frames[0].shape == (400, 600, 3)   # CartPole: at least 8 steps and the reset frame


def test_eval_video_is_one_episode_frame_by_frame(run, tmp_path, capsys):
    assert main(["eval", str(run), "--episodes", "1", "--video", str(tmp_path / "ep.mp4")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["video"] == str(tmp_path / "ep.mp4")
    frames = imageio.mimread(tmp_path / "ep.mp4", memtest=False)
    # CartPole pays 1 per step: the reset frame and one per step.
    assert len(frames) == out["video_frames"] == out["video_return"] + 1


def test_png_strip_where_video_encoding_is_unavailable(run, tmp_path, monkeypatch, capsys):
    from tandem.io import video

    monkeypatch.setattr(video, "can_encode_video", lambda: False)
    assert main(["eval", str(run), "--episodes", "1", "--video", str(tmp_path / "ep.mp4")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["video"] == str(tmp_path / "ep.png") and not (tmp_path / "ep.mp4").exists()
    strip = imageio.imread(tmp_path / "ep.png")
    n = min(video.STRIP_FRAMES, out["video_frames"])
    assert strip.shape == (400, 600 * n, 3) and strip.dtype == np.uint8


def test_envs_that_do_not_render_are_refused_before_anything_is_written(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main(["train", "ppo", "--env", "gymnax:CartPole-v1", "--capture-video", "--run-dir", str(run_dir),
                 "--quiet"])
    assert code == 2 and not run_dir.exists()
    assert "--capture-video: 'gymnax:CartPole-v1' is a JAX environment (gymnax), which does not render" in \
        capsys.readouterr().err
    code = main(["train", "ppo", "--env", "tandem:Memory-v0", "--capture-video", "--run-dir", str(run_dir),
                 "--quiet"])
    assert code == 2 and not run_dir.exists()
    assert "does not render RGB frames (its render modes: none)" in capsys.readouterr().err
