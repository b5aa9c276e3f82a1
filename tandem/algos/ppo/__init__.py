"""PPO (and A2C, its special case): config.py, losses.py, learner.py, presets.py."""
