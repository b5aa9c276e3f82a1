"""Episode videos: one deterministic episode of a policy, rendered, written as an MP4 (imageio with its ffmpeg
plugin) or, where video encoding is unavailable or the path ends in ``.png``, as a PNG strip of frames.

For environments that render RGB frames: Gymnasium's (classic control, Box2D, MuJoCo), Atari's (the game's
frame, not the 84x84 preprocessed one) and tandem's masked CartPole. JAX environments (gymnax, Jumanji,
XLand-MiniGrid) do not render and are refused, before anything runs.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from tandem.errors import TandemInputError

MAX_FRAMES = 10_000
"""An episode's video stops here (at 30 fps, over five minutes)."""
STRIP_FRAMES = 8
"""Frames in a PNG strip, evenly spaced over the episode."""


def _quiet_renderer() -> None:
    """No sound or display device for pygame's init (classic control renders through it, off screen): without
    them it prints ALSA and XDG errors for each env rendered."""
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def check_renders(env_id: str, backend: str, flag: str = "--video") -> None:
    """TandemInputError unless ``env_id`` is a host environment that renders RGB frames."""
    if backend != "gymnasium":
        raise TandemInputError(f"{flag}: {env_id!r} is a JAX environment ({backend}), which does not render frames; "
                               f"allowed: Gymnasium, Atari (ALE/...) and tandem: environments that render "
                               f"rgb_array frames.")
    from tandem.envs.gymnasium_host import make_single

    import gymnasium as gym

    _quiet_renderer()
    env = make_single(env_id)
    try:
        modes = env.metadata.get("render_modes", [])
    finally:
        env.close()
    if "rgb_array" not in modes:
        raise TandemInputError(f"{flag}: {env_id!r} does not render RGB frames (its render modes: {modes or 'none'}); "
                               f"allowed: environments with the rgb_array render mode.")
    env = make_single(env_id, render_mode="rgb_array")
    try:   # one frame now: a missing renderer (pygame for classic control) is bad input, found before the run
        env.reset(seed=0)
        env.render()
    except gym.error.DependencyNotInstalled as e:
        raise TandemInputError(f"{flag}: {env_id!r} cannot render here: {e}; or pip install 'tandem-rl[video]'.") \
            from None
    finally:
        env.close()


def record_episode(policy, spec, seed: int = 0, max_frames: int = MAX_FRAMES) -> tuple[list[np.ndarray], float]:
    """(frames [H, W, 3] uint8, return) of one episode of ``policy`` (an api.Policy: ``step(obs [1, ...], carry)``,
    actions in the env's own space) on ``spec``'s env, reset with ``seed``; frame 0 is the reset's."""
    from tandem.envs.gymnasium_host import _Recorded, make_single
    from tandem.envs.spec import obs_map

    _quiet_renderer()
    env = _Recorded(make_single(spec.id, render_mode="rgb_array"), spec, 0)
    try:
        obs, _ = env.reset(seed=seed)
        frames, total, carry = [np.asarray(env.render())], 0.0, policy.initial_carry(1)
        while len(frames) < max_frames:
            batch = obs_map(lambda s, x: np.asarray(x, s.dtype)[None], spec, obs)
            action, carry = policy.step(batch, carry)
            action = np.asarray(action)[0]
            obs, reward, terminated, truncated, _ = env.step(action[()] if spec.action_kind == "discrete" else action)
            total += float(reward)
            frames.append(np.asarray(env.render()))
            if terminated or truncated:
                break
        return frames, total
    finally:
        env.close()


def can_encode_video() -> bool:
    """Whether imageio can write MP4 here (its ffmpeg plugin, imageio-ffmpeg)."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def write(frames: list[np.ndarray], path: str | Path, fps: int = 30) -> Path:
    """Write ``frames`` to ``path``: MP4 when the path says so and encoding is available, else a PNG strip beside
    it (``path`` with the suffix ``.png``). Returns the path written."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() != ".png" and can_encode_video():
        # macro_block_size 1: no resize of frames whose sides are not multiples of 16 (CartPole's 600x400 is).
        with warnings.catch_warnings():   # ffmpeg runs as a subprocess: JAX's warning about os.fork does not apply
            warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
            imageio.mimwrite(path, frames, fps=fps, macro_block_size=1)
        return path
    return write_strip(frames, path.with_suffix(".png"))


def write_strip(frames: list[np.ndarray], path: Path, n: int = STRIP_FRAMES) -> Path:
    """A PNG of ``n`` frames evenly spaced over the episode (first and last included), side by side."""
    import imageio.v2 as imageio

    picks = np.unique(np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int))
    imageio.imwrite(path, np.concatenate([frames[i] for i in picks], axis=1))
    return path
