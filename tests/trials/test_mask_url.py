"""``mask_url``: every credential a storage URL can carry is ``***`` wherever the tool prints or writes
it (error lines, the dashboard's banner, reports, the study's recorded config).  Its cases, in one place."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from trials.record.storage import mask_url


@pytest.mark.parametrize("url, masked", [
    # the password of the user info, escaped or not
    ("postgresql+psycopg2://u:secretpw@127.0.0.1:1/db", "postgresql+psycopg2://u:***@127.0.0.1:1/db"),
    ("postgresql+psycopg2://bob:s3cr%40t@db.example:5432/runs", "postgresql+psycopg2://bob:***@db.example:5432/runs"),
    ("postgresql://u:p%40ss%3Aw0rd@host/db", "postgresql://u:***@host/db"),
    ("mysql+pymysql://root:hunter2@10.0.0.5:3306/optuna?charset=utf8mb4",
     "mysql+pymysql://root:***@10.0.0.5:3306/optuna?charset=utf8mb4"),
    # an unescaped '@' in the password: the user info runs to the last '@' of the authority
    ("postgresql+psycopg2://u:p@ss@host/db", "postgresql+psycopg2://u:***@host/db"),
    ("postgresql://u:p@ss:w0rd@host:5432/db?sslmode=require", "postgresql://u:***@host:5432/db?sslmode=require"),
    # nothing to hide
    ("postgresql://host/db", "postgresql://host/db"),
    ("postgresql://u@host/db", "postgresql://u@host/db"),
    ("sqlite:///runs/search.db", "sqlite:///runs/search.db"),
    # credentials in the query string (libpq's password, sslpassword; MySQL's passwd)
    ("postgresql+psycopg2://user@host/db?password=s3cret&sslmode=require",
     "postgresql+psycopg2://user@host/db?password=***&sslmode=require"),
    ("postgresql://u@h/db?sslmode=require&sslpassword=k3y", "postgresql://u@h/db?sslmode=require&sslpassword=***"),
    ("mysql+pymysql://root@10.0.0.5/optuna?passwd=hunter2&charset=utf8mb4",
     "mysql+pymysql://root@10.0.0.5/optuna?passwd=***&charset=utf8mb4"),
    ("postgresql://u:pw@h/db?password=again", "postgresql://u:***@h/db?password=***"),
])
def test_the_password_is_hidden_and_the_rest_kept(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    password = make_url(url).password if url.count("@") <= 1 else None  # SQLAlchemy misparses an unescaped '@'
    if password:
        assert f":{password}@" not in mask_url(url)


def test_a_string_sqlalchemy_cannot_parse_is_masked_too():
    masked = mask_url("not a url://bob:hunter2@host/db")
    assert "hunter2" not in masked and "bob:***@host" in masked
