"""Implicit Q-learning (Kostrikov, Nair, Levine 2021), an offline learner: config.py, losses.py, learner.py."""
