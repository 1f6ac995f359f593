"""Fixtures: realistic search studies in a temporary SQLite storage.

Session-scoped: no test writes to these studies, and creating an Optuna SQLite schema costs
about a second on this machine.
"""

from __future__ import annotations

import pytest

from analysis_studies import SearchStudy, fill_search, make_study


@pytest.fixture(scope="session")
def search_study(tmp_path_factory) -> SearchStudy:
    """Three objectives (accuracy, params, macs), as a CFN-style search records them."""
    storage = f"sqlite:///{tmp_path_factory.mktemp('search') / 'search.db'}"
    study = make_study(storage, "cfn-search", ["accuracy", "params", "macs"])
    return SearchStudy(storage, "cfn-search", fill_search(study))


@pytest.fixture(scope="session")
def two_objective_study(tmp_path_factory) -> SearchStudy:
    """The same designs with two objectives (accuracy, macs)."""
    storage = f"sqlite:///{tmp_path_factory.mktemp('search2') / 'search2.db'}"
    study = make_study(storage, "cfn-2obj", ["accuracy", "macs"])
    return SearchStudy(storage, "cfn-2obj", fill_search(study))
