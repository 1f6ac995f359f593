"""Storage URLs as the tool prints them: the password never shows.

It lives with the record in ``trials`` (the floor that writes storages), and ``analysis``
imports it from here, so no lower floor reaches up for it.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# scheme://user:PASSWORD@host...: greedy up to the last "@" before the host, so a password that
# holds an unescaped "@" is hidden whole (SQLAlchemy would split it at the first one)
_PASSWORD = re.compile(r"^(?P<head>[^:/]+://[^:/@]*:)(?P<password>.*)@(?P<host>[^@/]*)(?P<tail>(/.*)?)$")


def mask_url(url: str) -> str:
    """Return the storage URL with its password replaced by ``***``, safe to print or write."""
    if not isinstance(url, str):
        return repr(url)
    match = _PASSWORD.match(url)
    if match and "@" in match.group("password"):
        return f"{match.group('head')}***@{match.group('host')}{match.group('tail')}"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _PASSWORD.sub(r"\g<head>***@\g<host>\g<tail>", url)
