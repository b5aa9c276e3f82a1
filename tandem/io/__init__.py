"""Run directory, checkpoints and metrics."""
