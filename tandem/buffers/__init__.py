"""Buffers: replay (a ring buffer that is plain JAX data, so it lives wherever the learner state lives)."""

from tandem.buffers.replay import ReplayBuffer, replay_add, replay_init, replay_sample

__all__ = ["ReplayBuffer", "replay_add", "replay_init", "replay_sample"]
