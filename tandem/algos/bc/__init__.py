"""Behaviour cloning, an offline learner (maximum likelihood of a dataset's actions): config.py, learner.py."""
