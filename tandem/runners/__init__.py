"""Runners: the Driver protocol and registry (driver.py), the JAX and host runners, and the training loop."""
