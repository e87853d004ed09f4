"""The client's version (also in pyproject.toml), recorded with every job it submits (``client_version``)."""

__version__ = "0.1.0"
