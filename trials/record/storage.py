"""Storage URLs: opening them to write (a search) or only to read (report, pareto, export, dashboard).

Two ways in, because Optuna's ``RDBStorage`` creates its tables in whatever database a URL
names: right for a search, wrong for a command that only reads.  ``open_storage`` (search,
ablate) creates the SQLite file and its folder; ``open_storage_readonly`` refuses a missing
file, a file that is not an Optuna storage, and opens SQLite files through SQLite's own
read-only mode, so a reader can never change what it reads (a mistyped path creates nothing,
a foreign SQLite file gets no Optuna tables).

SQLite is opened in WAL mode with a long busy timeout so a reader (the dashboard, a report)
can sit on the file while the search writes: WAL lets readers and one writer proceed
together, and the timeout turns the remaining writer/writer overlaps into waits instead of
``database is locked``.

Every failure here is a ``StudyError`` (a ``FusionscopeError``) naming the masked URL.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote

import optuna
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from search_space.errors import FusionscopeError

#: the tables every Optuna RDB storage has; a database without them is not one
OPTUNA_TABLES = ("studies", "trials", "version_info")
SQLITE_TIMEOUT_S = 60


class StudyError(FusionscopeError, RuntimeError):
    """The storage cannot be reached, created or read, or the study there does not fit the
    config; the message names the masked URL.  (``trials.running.study`` re-exports it.)"""


#: query parameters that carry a credential (libpq's ``password``/``sslpassword``, MySQL's
#: ``passwd``, tokens and keys of other dialects): masked like the password of the user info
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|auth|key|credential", re.IGNORECASE)


def _mask_query(query: str) -> str:
    parts = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        parts.append(f"{name}=***" if eq and _SECRET_PARAM.search(unquote(name)) else pair)
    return "&".join(parts)


def mask_url(url: str) -> str:
    """The storage URL with every credential replaced by ``***``, safe to print or write: the
    password of the user info, and a password (or token, key) given as a query parameter
    (``postgresql+psycopg2://user@host/db?password=...``, which libpq and SQLAlchemy accept).

    Done on the text rather than through SQLAlchemy's parser, because a password with an
    unescaped ``@`` (``u:p@ss@host``) parses as password ``p`` at host ``ss@host``: the user
    info is everything up to the *last* ``@`` of the authority, so that is what is masked.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, qmark, query = rest.partition("?")
    tail = f"?{_mask_query(query)}" if qmark else ""
    at = rest.rfind("@")
    if at < 0:
        return f"{scheme}://{rest}{tail}"
    user, colon, _password = rest[:at].partition(":")
    if not colon:
        return f"{scheme}://{rest}{tail}"
    return f"{scheme}://{user}:***@{rest[at + 1:]}{tail}"


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _sqlite_path(url: str) -> Path | None:
    """The file an SQLite URL names; None for other backends; StudyError for no file at all
    (or for a password with an unescaped ``@``, which every parser would split wrongly and
    a driver would then print the rest of as a host name)."""
    _scheme, _sep, rest = url.partition("://")
    rest = rest.partition("?")[0]
    if rest[:rest.rfind("@")].count("@"):
        raise StudyError(f"{mask_url(url)}: the password holds an '@'; write it as %40 in the URL")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StudyError(f"{mask_url(url)!r} is not a storage URL; e.g. sqlite:///runs/search.db "
                           "or postgresql+psycopg2://user:password@host/db") from None
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise StudyError(f"{url!r} names no file: an in-memory study is lost when the command ends; "
                           "write sqlite:///path/to/file.db")
    return Path(parsed.database)


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_TIMEOUT_S * 1000}")
    cursor.close()


def _describe(url: str, err: BaseException) -> str:
    cause = _first_line(err).replace(url, mask_url(url))
    if isinstance(err, ImportError) and url.startswith("postgresql://"):
        # SQLAlchemy >= 2.1 maps a bare postgresql:// to psycopg 3, not psycopg2
        cause = cause.rstrip(".") + "; with psycopg2 installed, write the URL as postgresql+psycopg2://..."
    return cause


def _seconds(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.isdigit() and int(value) > 0 else default


#: A live driver records a heartbeat for each of its running trials this often (seconds) ...
HEARTBEAT_S = _seconds("FUSIONSCOPE_HEARTBEAT_S", 5)
#: ... and a running trial whose heartbeat is older than this is stale: its driver is gone.
GRACE_S = _seconds("FUSIONSCOPE_GRACE_S", 30)


def make_storage(url: str, heartbeat: bool = False) -> optuna.storages.RDBStorage:
    """An RDBStorage to write a search into, created when missing; StudyError if impossible.
    With ``heartbeat`` (a search's driver), running trials carry heartbeats (Optuna's
    ``heartbeat_interval``/``grace_period``), so a trial is stale only when its driver stopped."""
    if not isinstance(url, str):
        raise StudyError(f"storage={url!r}: expected a URL string")
    path = _sqlite_path(url)
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StudyError(f"cannot create the folder {str(path.parent)!r} for {mask_url(url)}: "
                               f"{err.strerror or err}") from None
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    for attempt in range(5):
        try:
            beat = {"heartbeat_interval": HEARTBEAT_S, "grace_period": GRACE_S} if heartbeat else {}
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **beat)
            break
        except sqlalchemy.exc.IntegrityError:  # another process created the tables at the same moment
            time.sleep(0.5 * (attempt + 1))
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError, OSError) as err:
            raise StudyError(f"cannot open storage {mask_url(url)}: {_describe(url, err)}") from None
    else:
        raise StudyError(f"cannot open storage {mask_url(url)}: its tables could not be created")
    if path is not None:
        event.listen(storage.engine, "connect", _sqlite_wal)
        storage.engine.dispose()  # reconnect so the pragma applies to every pooled connection
    return storage


def _check_sqlite_is_optuna(url: str, path: Path) -> None:
    """Refuse a missing file, a file that is not SQLite, and an SQLite file without Optuna's tables."""
    if not path.is_file():
        raise StudyError(f"the SQLite storage file {str(path)!r} does not exist ({mask_url(url)})")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT_S)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.Error as err:
        raise StudyError(f"cannot read {str(path)!r} as an SQLite storage: {err}") from None
    missing = [t for t in OPTUNA_TABLES if t not in tables]
    if missing:
        raise StudyError(f"{str(path)!r} is not an Optuna storage (no table {missing[0]!r}); "
                           "it was left untouched")


def _table_names(url: str) -> set[str]:
    """The tables of a server database's default schema (read through SQLAlchemy's inspector)."""
    try:
        engine = sqlalchemy.create_engine(url, pool_pre_ping=True)
        try:
            return set(sqlalchemy.inspect(engine).get_table_names())
        finally:
            engine.dispose()
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError, OSError) as err:
        raise StudyError(f"cannot open storage {mask_url(url)}: {_describe(url, err)}") from None


def open_storage_to_serve(url: str) -> tuple[optuna.storages.RDBStorage, bool]:
    """The storage ``dashboard`` serves, and whether Optuna's tables were created for it.

    A user may start the dashboard before the first search, on the new, empty server database
    the search will write into: a database with no tables at all gets Optuna's tables (exactly
    what that first search would create), so the dashboard comes up empty and shows each study
    as a search creates it.  Everything else is opened as ``open_storage_readonly`` does: a
    server database holding other tables is refused and left untouched, and so is an SQLite
    file that does not exist or is not an Optuna storage (a mistyped path creates nothing).
    """
    if not isinstance(url, str):
        raise StudyError(f"storage={url!r}: expected a URL string")
    if _sqlite_path(url) is None and not _table_names(url):
        return make_storage(url), True
    return open_storage_readonly(url), False


def open_storage_readonly(url: str) -> optuna.storages.RDBStorage:
    """An RDBStorage that cannot change the database: for report, pareto, export, dashboard.

    SQLite: the file must exist and hold Optuna's tables, and every connection is opened with
    ``mode=ro`` (SQLite refuses any write, so nothing Optuna does on open can alter the file).
    Other backends: the database must already hold Optuna's tables (checked before Optuna
    would create them).
    """
    if not isinstance(url, str):
        raise StudyError(f"storage={url!r}: expected a URL string")
    path = _sqlite_path(url)
    if path is not None:
        _check_sqlite_is_optuna(url, path)
        uri = f"{path.resolve().as_uri()}?mode=ro"
        engine_kwargs: dict[str, Any] = {
            "creator": lambda: sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S, check_same_thread=False)}
    else:
        engine_kwargs = {"pool_pre_ping": True}
        tables = _table_names(url)
        missing = [t for t in OPTUNA_TABLES if t not in tables]
        if missing:
            raise StudyError(f"{mask_url(url)} is not an Optuna storage (no table {missing[0]!r}); "
                               "it was left untouched")
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, skip_table_creation=True)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError, OSError, RuntimeError) as err:
        raise StudyError(f"cannot open storage {mask_url(url)}: {_describe(url, err)}") from None


#: How long a search keeps retrying a storage that stopped answering (a restarting server, a
#: network blip) before it stops with one line; ``FUSIONSCOPE_STORAGE_RETRY_S`` to change.
STORAGE_RETRY_S = _seconds("FUSIONSCOPE_STORAGE_RETRY_S", 60)

#: what a storage that broke under a running search raises (Optuna wraps some in StorageInternalError)
STORAGE_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.SQLAlchemyError, sqlite3.Error, optuna.exceptions.StorageInternalError, OSError)


def error_chain(err: BaseException) -> Iterator[BaseException]:
    """``err``, its causes and contexts, and the DB-API errors SQLAlchemy wraps (``.orig``)."""
    seen: set[int] = set()
    todo = [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "orig", None)])


def disk_full(err: BaseException) -> bool:
    """ENOSPC/EDQUOT from Python, or SQLite's own 'database or disk is full', anywhere in the chain
    (Optuna's StorageInternalError wraps SQLAlchemy's OperationalError wraps sqlite3's)."""
    import errno

    return any((isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT))
               or "database or disk is full" in str(e) for e in error_chain(err))


def storage_cause(url: str, err: BaseException) -> str:
    """The innermost useful line of a storage failure, with the URL masked."""
    chain = list(error_chain(err))
    inner = next((e for e in reversed(chain) if not isinstance(e, optuna.exceptions.StorageInternalError)), err)
    return _describe(url, inner)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _unwritable(path: Path) -> Path | None:
    """The first of the SQLite file, its -wal/-shm and its folder that exists and cannot be
    written (read-only mount, permissions, ``chattr +i``: SQLite would die with SIGBUS on an
    immutable -shm, which no handler can catch)."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"), path.parent):
        if p.exists() and not os.access(p, os.W_OK):
            return p
    return None


def check_writable(url: str) -> None:
    """Refuse up front an SQLite storage the search could not write (see ``_unwritable``)."""
    path = _sqlite_path(url)
    if path is None:
        return
    bad = _unwritable(path)
    if bad is not None:
        raise StudyError(f"{str(bad)!r} is not writable (read-only, its permissions, or immutable: lsattr shows 'i'); "
                         f"a search cannot record into {mask_url(url)}; nothing was trained")


class StorageWatch:
    """Notices an SQLite storage vanishing or changing under a running search: deleted (the open
    connection would go on writing into the unlinked file, and every result would be lost),
    replaced by another file, or made unwritable.  Server storages are watched by their errors."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = _sqlite_path(url)
        self.identity = _identity(self.path) if self.path is not None else None

    def problem(self) -> str | None:
        if self.path is None or self.identity is None:
            return None
        now = _identity(self.path)
        if now is None:
            return (f"the SQLite storage file {str(self.path)!r} was deleted while the search ran; what it held is "
                    "gone with it, so the search stopped")
        if now != self.identity:
            return (f"the SQLite storage file {str(self.path)!r} was replaced by another file while the search ran; "
                    "the search stopped rather than write into it")
        bad = _unwritable(self.path)
        if bad is not None:
            return f"{str(bad)!r} stopped being writable while the search ran; the search stopped"
        return None


@contextmanager
def reading(url: str) -> Iterator[None]:
    """Turn a storage that breaks while read (a corrupted page, a dropped connection) into a
    StudyError naming it, instead of a traceback from deep inside SQLAlchemy."""
    try:
        yield
    except (sqlalchemy.exc.SQLAlchemyError, sqlite3.DatabaseError) as err:
        raise StudyError(f"cannot read the storage {mask_url(url)}: {_describe(url, err)}") from None
    except optuna.exceptions.StorageInternalError as err:  # Optuna's wrapper around a failed session
        cause = err.__cause__ if err.__cause__ is not None else err
        raise StudyError(f"cannot read the storage {mask_url(url)}: {_describe(url, cause)}") from None


__all__ = ["OPTUNA_TABLES", "STORAGE_ERRORS", "STORAGE_RETRY_S", "StorageWatch", "StudyError", "check_writable",
           "disk_full", "error_chain", "storage_cause", "make_storage", "mask_url", "open_storage_readonly", "open_storage_to_serve",
           "reading"]
