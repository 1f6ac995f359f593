"""Which code ran: fusionscope's version and the libraries' (recorded on every trial, printed by
``fusionscope --version``).  One home, import-light: the libraries are imported only when asked."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def fusionscope_version() -> str:
    """The installed distribution's version, else pyproject.toml's with "(source tree)"."""
    try:
        return version("fusionscope")
    except PackageNotFoundError:  # run from a source tree on PYTHONPATH, not pip-installed
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"] + " (source tree)"


def library_versions() -> dict[str, str]:
    """torch, Optuna, Ray and fusionscope, as a trial's ``versions`` attr records them."""
    import optuna
    import ray
    import torch

    return {"torch": torch.__version__, "optuna": optuna.__version__, "ray": ray.__version__,
            "fusionscope": fusionscope_version()}
