"""The version, written once: pyproject.toml reads it (``[tool.setuptools.dynamic]``), tandem re-exports it."""

__version__ = "0.2.0"
