"""User SQL: read-only statements in a sandboxed DuckDB connection that sees the warehouse and nothing else.

Two locks, each enough for most escapes, together for all the ones we know:
- statement types: only reads (SELECT, and EXPLAIN of a SELECT) run; COPY, EXPORT, ATTACH, INSTALL,
  LOAD, SET, PRAGMA that sets, CREATE, DROP, INSERT ... are refused before anything executes;
- DuckDB's own sandbox: external access off with the warehouse folder the one allowed directory (so
  read_text('/etc/passwd'), read_parquet of another folder and URLs fail), extension install/autoload
  off, and the configuration locked so a statement cannot turn any of it back on.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from newsetl.warehouse import connect, retry_vanished

_READS = {"SELECT"}
_EXPLAIN = re.compile(r"^\s*EXPLAIN(?:\s+ANALYZE)?\s+(?P<inner>.+)$", re.IGNORECASE | re.DOTALL)


class QueryRefused(ValueError):
    """A statement that is not a read, or that tried to reach outside the warehouse."""


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@contextmanager
def sandbox(root: Path) -> Iterator[Any]:
    """Yield a DuckDB connection with the warehouse views that can read the warehouse's files and nothing else."""
    con = connect(root)
    spill = Path(tempfile.mkdtemp(prefix="newsetl-query-"))  # big sorts may spill; only here
    try:
        allowed = [str(Path(root).resolve()) + "/", str(spill) + "/"]
        con.execute(f"SET allowed_directories = [{', '.join(_quote(d) for d in allowed)}]")
        con.execute(f"SET temp_directory = {_quote(str(spill))}")
        for setting in (
            "enable_external_access = false",
            "autoinstall_known_extensions = false",
            "autoload_known_extensions = false",
            "allow_community_extensions = false",
            "lock_configuration = true",
        ):
            con.execute(f"SET {setting}")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def read_statements(con: Any, sql: str) -> list[Any]:
    """Return the parsed statements of `sql`; raise QueryRefused unless every one is a read."""
    import duckdb

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"query failed: {str(exc).splitlines()[0]}") from None
    if not statements:
        raise QueryRefused("no SQL statement given")
    for st in statements:
        kind = st.type.name
        if kind == "EXPLAIN":
            m = _EXPLAIN.match(st.query)
            if m and all(s.type.name in _READS for s in con.extract_statements(m.group("inner"))):
                continue
        elif kind in _READS:
            continue
        raise QueryRefused(
            f"{kind} refused: newsetl query runs reads only (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, "
            "EXPLAIN of a read)"
        )
    return statements


def run_query(root: Path, sql: str) -> tuple[list[str] | None, list[tuple]]:
    """Return (column names, rows) of the last statement of `sql`, run read-only in the sandbox."""
    import duckdb

    with sandbox(root) as con:
        statements = read_statements(con, sql)
        try:
            for st in statements:  # reads only: one that lost a race with a compaction's cleanup runs again
                cur = retry_vanished(partial(con.execute, st))
            if cur.description is None:
                return None, []
            return [d[0] for d in cur.description], cur.fetchall()
        except duckdb.PermissionException as exc:
            raise QueryRefused(f"refused: {str(exc).splitlines()[0]} (queries read the warehouse only)") from None
        except duckdb.Error as exc:
            raise QueryRefused(f"query failed: {str(exc).splitlines()[0]}") from None
