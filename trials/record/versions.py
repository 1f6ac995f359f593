"""Which code ran: fusionscope's version and the libraries' (recorded on every trial, printed by
``fusionscope --version``).  One home, import-free: the versions come from the distributions' metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def fusionscope_version() -> str:
    """The installed distribution's version, else pyproject.toml's with "(source tree)"."""
    try:
        return version("fusionscope")
    except PackageNotFoundError:  # run from a source tree on PYTHONPATH, not pip-installed
        import tomllib

        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        return tomllib.loads(pyproject.read_text())["project"]["version"] + " (source tree)"


def library_versions() -> dict[str, str]:
    """torch, Optuna, Ray and fusionscope, as a trial's ``versions`` attr records them (read from
    the installed distributions' metadata: nothing is imported to ask)."""
    return {name: version(name) for name in ("torch", "optuna", "ray")} | {"fusionscope": fusionscope_version()}
