"""The package version: one home, read by pyproject.toml (setuptools' dynamic version), by
`nwlab.__version__`, by `python -m nwlab --version` and by the User-Agent."""

__version__ = "0.1.0"
