"""Buffers: the one Transition type, and replay (a ring buffer that is plain JAX data, held by the runner side,
so it lives wherever the runner keeps its state: on the device in the JAX runner, in host memory otherwise)."""

from tandem.buffers.replay import ReplayBuffer, ReplayFns, replay_add, replay_init, replay_sample, uniform_replay
from tandem.buffers.transition import Transition

__all__ = ["ReplayBuffer", "ReplayFns", "Transition", "replay_add", "replay_init", "replay_sample", "uniform_replay"]
