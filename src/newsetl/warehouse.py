"""Warehouse: Parquet parts published atomically, a run lock, and the DuckDB catalog over them.

Layout under the warehouse root:
    <table>/ingest_date=YYYY-MM-DD/<run_id>-<part>.parquet   published parts (zstd)
    <table>/_empty/schema.parquet                           zero-row file: the view's schema
    _staging/<run_id>/...                                   a run's parts before publishing
    newsetl.duckdb                                          catalog: views over the parts
A run's rows become visible all at once: every view keeps only rows whose run has a
`completed` row in `runs`, and that row is written last. Every view also reads only live parts: not
the parts a committed compaction retired, and a compacted part only once its compaction committed
(compaction.py says why this is safe for readers).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from newsetl import health
from newsetl.config import InputError
from newsetl.schema import PARTS, SOURCES, TABLES
from newsetl.staging import COMPACTED, StagePaths, published_name, run_of_published, staging_root

CATALOG_FILE = "newsetl.duckdb"
# 3: relative to its folder; 4: runs by state; 5: copy_fixes; 6: repairs, parts; 7: stories; 8: compaction
CATALOG_VERSION = "8"
LOCK_FILE = ".newsetl.lock"
# Tables whose rows belong to a run and are hidden until the run completes.
RUN_TABLES = (
    "articles",
    "duplicates",
    "quarantine",
    "files",
    "dedup_index",
    "validations",
    "supersessions",
    "copy_fixes",
    "story_index",
    "story_merges",
    "repairs",
    "parts",  # moved last, after every part the manifest lists
)
# Tables whose rows of a superseded file version are hidden (kept in `articles_all`).
_VERSIONED = ("articles", "dedup_index", "story_index")
# Tables whose view applies copy_fixes (the raw rows stay in `<table>_all`).
_FIXED = ("duplicates", "quarantine")
# Tables whose rows name their file version (path column, sha256 column): repairs can reload them.
RELOADABLE = {
    "articles": ("source_file", "file_sha256"),
    "duplicates": ("source_file", "file_sha256"),
    "quarantine": ("source_file", "file_sha256"),
    "dedup_index": ("source_file", "file_sha256"),
    "story_index": ("source_file", "file_sha256"),
    "files": ("path", "sha256"),
}


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse lock."""


def write_parquet(table: pa.Table, path: Path) -> Path:
    """Write `table` to `path` atomically (temp name the views never match, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    return commit_file(tmp, path)


def commit_file(tmp: Path, path: Path) -> Path:
    """Make a fully written temp file (a name the views never match) `path`: fsync, rename."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def partition_dir(root: Path, name: str, ingest_date: date) -> Path:
    return root / name / f"ingest_date={ingest_date.isoformat()}"


def init_warehouse(root: Path) -> None:
    """Create the folders and the zero-row schema file of every table (idempotent)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, schema in TABLES.items():
        marker = root / name / "_empty" / "schema.parquet"
        if not marker.exists():
            write_parquet(schema.empty_table(), marker)
    marker = root / "sources" / "_empty" / "schema.parquet"
    if not marker.exists():
        write_parquet(SOURCES.empty_table(), marker)


@contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold the warehouse's exclusive run lock, or raise WarehouseBusy at once."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                raise WarehouseBusy(
                    f"another newsetl run (pid {holder}) is writing to {root}; it was left alone - try again when it ends"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def publish_staged(stage: StagePaths, ingest_date: date, after_each: Callable[[], None] | None = None) -> int:
    """Move every staged part of a run into its table's partition; return the number moved.

    Idempotent: parts already moved are not staged any more, so a retry moves the rest.
    Moved parts stay invisible to queries until the run's `completed` row is written.
    """
    moved = 0
    for name in RUN_TABLES:
        src = stage.table_dir(name)
        if not src.is_dir():
            continue
        dest = partition_dir(stage.root, name, ingest_date)
        dest.mkdir(parents=True, exist_ok=True)
        for part in sorted(src.glob("*.parquet")):
            os.replace(part, dest / published_name(stage.run_id, part))
            moved += 1
            if after_each:
                after_each()
    return moved


def remove_staging(root: Path, run_id: str | None = None) -> None:
    """Delete one run's staging folder, or all of them."""
    target = staging_root(root) / run_id if run_id else staging_root(root)
    shutil.rmtree(target, ignore_errors=True)


def remove_temp_files(root: Path) -> int:
    """Delete temporary files a killed writer left behind (names the views never match)."""
    removed = 0
    for tmp in [*root.glob(".*.tmp"), *root.glob("*/*/.*.tmp")]:
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def remove_parts_of(root: Path, run_ids: set[str]) -> int:
    """Delete published parts that belong to runs that never completed; return how many."""
    if not run_ids:
        return 0
    removed = 0
    for name in RUN_TABLES:
        for part in (root / name).glob("ingest_date=*/*.parquet"):
            if run_of_published(part.name) in run_ids:
                part.unlink(missing_ok=True)
                removed += 1
    return removed


# ---------------------------------------------------------------- catalog


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def literal_glob(path: str) -> str:
    """Return `path` with DuckDB's glob characters bracketed, so a glob over it matches only that folder.

    DuckDB treats *, ? and [ as wildcards anywhere in a path (a folder `wh*` would read `wh1` too);
    [*], [?] and [[] match the character itself. It has no escape for a backslash: see check_root.
    """
    return re.sub(r"([*?\[])", r"[\1]", path)


def check_root(root: Path) -> Path:
    """Return the absolute warehouse path; raise InputError for one DuckDB cannot read as a folder."""
    resolved = root.resolve()
    if "\\" in str(resolved):
        raise InputError(
            f"warehouse path {resolved} contains a backslash, which DuckDB reads as a path separator: "
            "choose a folder without one"
        )
    return resolved


# The catalog file's views find the folder they are in when they are queried, so a copied or moved
# warehouse reads its own Parquet files: DuckDB's default temp_directory is '<database file>.tmp'
# (with .tmp put before a '?' in the path), from which the folder follows. A catalog opened with
# another temp_directory cannot know its folder and says so instead of reading somewhere else.
# tests/test_portable.py re-checks this on every DuckDB version we pin.
_CATALOG_DIR_MACRO = r"""CREATE OR REPLACE MACRO newsetl_dir() AS (
  CASE WHEN regexp_matches(regexp_replace(current_setting('temp_directory'), '\.tmp(\?|$)', '\1'), '\.duckdb$')
  THEN regexp_replace(
         regexp_extract(regexp_replace(current_setting('temp_directory'), '\.tmp(\?|$)', '\1'), '^(.*/)', 1),
         '([*?\[])', '[\1]', 'g')
  ELSE error('this newsetl catalog cannot tell which folder it is in (its temp_directory was changed): '
             || 'open it without setting temp_directory, or use newsetl query')
  END)"""


def _scan(name: str, root: Path | None) -> str:
    """Return the read_parquet call over a table's parts: absolute path, or relative to the catalog file."""
    pattern = f"{name}/*/*.parquet"
    where = _sql_string(literal_glob(f"{root.as_posix()}/") + pattern) if root else f"newsetl_dir() || '{pattern}'"
    return f"read_parquet({where}, union_by_name = true)"


def _live_scan(name: str, root: Path | None) -> str:
    """Return a FROM clause over a table's live parts (alias t; WHERE _LIVE keeps them).

    The compaction records are read first in the clause (DuckDB lists the files of a query's scans in
    the order it binds them, left to right), so the parts listed for `t` are never older than the
    records: a record that retires parts names a compacted part already on disk. compaction.py explains.
    """
    records = (
        f"(SELECT parse_filename(name) AS part, bool_or(role = 'retired') AS hide FROM {_scan('compactions', root)} "
        f"WHERE \"table\" = '{name}' GROUP BY ALL) k"
    )
    return f"{records} RIGHT JOIN {_scan(name, root)} t ON k.part = parse_filename(t.filename)"


# A part is live unless a committed compaction retired it; a compacted part only once its compaction committed.
_LIVE = f"NOT coalesce(k.hide, contains(parse_filename(t.filename), '{COMPACTED}'))"


def live_parts(con: Any, root: Path, name: str) -> list[str]:
    """Return the paths of a table's live parts (as the views read them: not retired, compacted ones committed).

    For readers that read Parquet themselves (pyarrow hands list columns over several times faster than a
    DuckDB query); the rows they read still need the views' run and version rules.
    """
    sql = f"SELECT DISTINCT t.filename FROM {_live_scan(name, root)} WHERE {_LIVE} ORDER BY 1"
    return [r[0] for r in retry_vanished(lambda: con.execute(sql).fetchall())]


def without_versions(versions: str, alias: str, name: str) -> str:
    """Return a join clause that drops the rows of `alias` whose file version is a row of `versions`.

    versions: a relation with columns path and sha256; `alias` has source_file and file_sha256. The same
    rows as `NOT EXISTS (SELECT 1 FROM versions v WHERE v.path = alias.source_file AND ...)`, a key with a
    NULL matching in neither, but DuckDB turns a correlated NOT EXISTS into a delim join that first
    collects the distinct (path, sha256) of every row of `alias`: over 899,789 articles that took
    +207 MiB and 0.24 s where the anti join, which hashes only `versions`, took +14 MiB and 0.07 s.
    """
    return f"ANTI JOIN {versions} {name} ON {name}.path = {alias}.source_file AND {name}.sha256 = {alias}.file_sha256"


# Rows of `t` of a current file version: not of a version a later version of the same path superseded.
NOT_SUPERSEDED = without_versions("supersessions", "t", "sup")

# A copy (of relation `d`) still a copy: not promoted to an article, nor demoted to quarantine.
COPY_KEPT = "d.article_id NOT IN (SELECT article_id FROM copy_fixes WHERE action IN ('promoted', 'demoted'))"

# A run's state rows in the order its life can only go (never compared by clock: NTP may step it back):
# running -> completed | failed, running -> incomplete (found dead by a later run). A committed run
# stays committed whatever rows or clocks follow.
_STATE_RANK = "CASE status WHEN 'completed' THEN 3 WHEN 'failed' THEN 2 WHEN 'incomplete' THEN 1 ELSE 0 END"


# Merged stories: each merged story id with the story it reads as now (chains of merges followed).
_STORY_ROOTS = """CREATE OR REPLACE VIEW story_roots AS
WITH RECURSIVE chain(story_id, root, depth) AS (
  SELECT story_id, merged_into, 1 FROM story_merges
  UNION ALL
  SELECT c.story_id, m.merged_into, c.depth + 1 FROM chain c JOIN story_merges m ON m.story_id = c.root
  WHERE c.depth < 64
)
SELECT story_id, arg_max(root, depth) AS root FROM chain GROUP BY story_id"""

# Every article and every copy with its story (as it reads now) and who it comes from: a copy is
# attributed to the wire its text (or a copy of it) credits, else to the outlet of the article it
# copies (the earliest published: dedup keeps it). `syndicated`: wire copy, or another outlet's text.
_STORY_ARTICLES = """CREATE OR REPLACE VIEW story_articles AS
WITH a AS (
  SELECT a.*, coalesce(a.published_at, r.started_at) AS event_time FROM articles a LEFT JOIN runs r USING (run_id)
), cw AS (
  SELECT duplicate_of, min(wire) AS wire FROM duplicates WHERE wire IS NOT NULL GROUP BY duplicate_of
), g AS (
  SELECT a.*, coalesce(a.wire, cw.wire) AS group_wire FROM a LEFT JOIN cw ON cw.duplicate_of = a.article_id
)
SELECT g.current_story_id AS story_id, g.article_id, g.title, g.outlet_id, g.outlet_name, g.language,
       g.event_time, g.published_at, false AS is_copy, NULL::VARCHAR AS copy_of, NULL::VARCHAR AS copy_method,
       NULL::DOUBLE AS similarity, g.wire, coalesce(g.group_wire, g.outlet_name, g.outlet_id) AS origin,
       g.group_wire IS NOT NULL AS syndicated, g.url, g.run_id, g.ingest_date
FROM g
UNION ALL
SELECT g.current_story_id, d.article_id, d.title, d.outlet_id, d.outlet_name, g.language,
       coalesce(d.published_at, r.started_at), d.published_at, true, d.duplicate_of, d.method,
       d.similarity, d.wire, coalesce(g.group_wire, g.outlet_name, g.outlet_id),
       g.group_wire IS NOT NULL OR d.outlet_id IS DISTINCT FROM g.outlet_id, d.url, d.run_id, d.ingest_date
FROM duplicates d JOIN g ON g.article_id = d.duplicate_of LEFT JOIN runs r ON r.run_id = d.run_id"""

_STORIES = """CREATE OR REPLACE VIEW stories AS
SELECT sa.story_id,
  arg_min(title, event_time) FILTER (WHERE NOT is_copy AND title IS NOT NULL) AS headline,
  min(event_time) AS first_published,
  max(event_time) AS last_published,
  count(*) AS articles,
  count(*) FILTER (WHERE is_copy) AS copies,
  count(DISTINCT outlet_id) AS outlets,
  count(DISTINCT origin) AS independent_outlets,
  count(*) FILTER (WHERE syndicated) AS syndicated,
  list(DISTINCT language ORDER BY language) FILTER (WHERE language IS NOT NULL) AS languages,
  arg_min(coalesce(outlet_name, outlet_id), event_time) AS first_outlet,
  any_value(m.merged_from) AS merged_from
FROM story_articles sa
LEFT JOIN (SELECT root, list(story_id ORDER BY story_id) AS merged_from FROM story_roots GROUP BY root) m
  ON m.root = sa.story_id
WHERE sa.story_id IS NOT NULL
GROUP BY sa.story_id"""


def _live_manifest(runs_manifest: str, root: Path | None) -> str:
    """Return the manifest of the parts on disk now: runs' entries and compactions' added parts, less retired ones.

    The records are read first (see _live_scan): the entries shown are those of one compaction state.
    """
    picked = ", ".join(f'coalesce(m."{c}", c.added."{c}") AS "{c}"' for c in PARTS.names)
    return f"""SELECT {picked}
FROM (
  SELECT name, bool_or(role = 'retired') AS retired,
         any_value({{'table': "table", 'name': name, 'size': size, 'sha256': sha256, 'rows': rows,
                     'run_id': compaction_id, 'ingest_date': ingest_date,
                     'sources': list_distinct(list_transform(list_filter(sources, s -> s.path IS NOT NULL),
                                                              s -> {{'path': s.path, 'sha256': s.sha256}}))}})
           FILTER (WHERE role = 'added') AS added
  FROM {_scan("compactions", root)} GROUP BY name
) c
FULL OUTER JOIN ({runs_manifest}) m ON m.name = c.name
WHERE NOT coalesce(c.retired, false) AND (m.name IS NOT NULL OR c.added IS NOT NULL)"""


def _report_views() -> list[str]:
    return [_STORY_ARTICLES, _STORIES, health.OUTLET_DAILY_SQL, health.OUTLET_ALERTS_SQL]


def catalog_sql(root: Path | None, reports: bool = True) -> list[str]:
    """Return the SQL statements that define every view: over the warehouse at `root` (absolute paths),
    or, with root None, over the folder of the catalog file the views are stored in.

    reports=False leaves out the views people read and the pipeline does not (stories, outlet health):
    they take a third of the time a connection spends binding views.
    """
    stmts = [] if root else [_CATALOG_DIR_MACRO]
    stmts += [
        f"""CREATE OR REPLACE VIEW runs AS
SELECT * EXCLUDE (rn) FROM (
  SELECT t.*, row_number() OVER (PARTITION BY t.run_id ORDER BY {_STATE_RANK} DESC) AS rn
  FROM {_live_scan("runs", root)} WHERE {_LIVE}
) WHERE rn = 1""",
        f"CREATE OR REPLACE VIEW compactions AS SELECT DISTINCT * FROM {_scan('compactions', root)}",
    ]
    completed = "t.run_id IN (SELECT run_id FROM runs WHERE status = 'completed')"
    first = ("supersessions", "repairs")
    for name in (*first, *[t for t in RUN_TABLES if t not in first]):
        view = f"{name}_all" if name in _VERSIONED + _FIXED else name
        where = f"{_LIVE} AND {completed}"
        hidden = ""
        if name in RELOADABLE:
            # Rows of a file version a later run read again (a part holding some of them was damaged): an
            # anti join, not NOT EXISTS, for the reason without_versions gives.
            path, sha = RELOADABLE[name]
            hidden = (
                " ANTI JOIN (SELECT hidden_run, path, sha256 FROM repairs WHERE outcome = 'reloaded') r"
                f" ON r.hidden_run = t.run_id AND r.path = t.{path} AND r.sha256 = t.{sha}"
            )
        body = f"SELECT t.* FROM {_live_scan(name, root)}{hidden} WHERE {where}"
        if name == "parts":
            body = _live_manifest(body, root)
        stmts.append(f"CREATE OR REPLACE VIEW {view} AS {body}")
    stmts.append(_STORY_ROOTS)
    for name in _VERSIONED:
        # Current versions only: rows of a file version a later version of the same path superseded are hidden.
        if name == "articles":  # with the story each article joined (never rewritten) and the one it reads as now
            stmts.append(
                f"""CREATE OR REPLACE VIEW articles AS
SELECT t.*, s.story_id, coalesce(r.root, s.story_id) AS current_story_id
FROM articles_all t
{NOT_SUPERSEDED}
LEFT JOIN story_index_all s ON s.article_id = t.article_id AND s.run_id = t.run_id
LEFT JOIN story_roots r ON r.story_id = s.story_id"""
            )
        else:
            stmts.append(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_all t {NOT_SUPERSEDED}")
    # Copies of a lost article point at the copy promoted in its place, or at a surviving article
    # with the same text; promoted copies are articles now; copies left with nothing are quarantined.
    stmts.append(
        f"""CREATE OR REPLACE VIEW duplicates AS
SELECT d.* REPLACE (coalesce(r.target, d.duplicate_of) AS duplicate_of)
FROM duplicates_all d
LEFT JOIN (
  SELECT article_id, min(target) AS target FROM copy_fixes
  WHERE action = 'repointed' AND target IN (SELECT article_id FROM articles) GROUP BY article_id
) r ON r.article_id = d.article_id
WHERE {COPY_KEPT}"""
    )
    stmts.append(
        """CREATE OR REPLACE VIEW quarantine AS
SELECT * FROM quarantine_all
UNION ALL BY NAME
SELECT d.article_id AS record_id, 'dedup' AS stage, f.reason, f.detail, d.title, d.text AS raw, d.source_file,
       d.file_sha256, d.record_no, d.format, f.run_id, f.ingest_date
FROM duplicates_all d JOIN copy_fixes f ON f.article_id = d.article_id AND f.action = 'demoted'"""
    )
    if reports:
        stmts += _report_views()
    stmts.append(
        f"""CREATE OR REPLACE VIEW sources AS
SELECT outlet_id, name, aliases, domains, country, language, true AS known, NULL::BIGINT AS articles
FROM {_scan("sources", root)}
UNION ALL
SELECT outlet_id, any_value(outlet_name), []::VARCHAR[], []::VARCHAR[], NULL, NULL, false, count(*)
FROM articles WHERE NOT outlet_known GROUP BY outlet_id"""
    )
    return stmts


def _view_name(stmt: str) -> str | None:
    return stmt.split(" VIEW ", 1)[1].split()[0] if " VIEW " in stmt else None


_BASE_VIEWS = ("runs", "repairs", "supersessions")  # every run table's view reads these


def connect(root: Path, reports: bool = True, only: tuple[str, ...] = ()) -> Any:
    """Return an in-memory DuckDB connection with the warehouse views (takes no file lock).

    reports=False: without the story and outlet-health views (the pipeline's own queries).
    only: just these views (and the ones every view reads); the caller names the views they read too.
    """
    import duckdb

    root = check_root(root)
    init_warehouse(root)
    con = duckdb.connect()
    stmts = catalog_sql(root, reports)
    if only:
        keep = set(only) | set(_BASE_VIEWS)
        stmts = [st for st in stmts if _view_name(st) in keep]
    for stmt in stmts:
        try:
            retry_vanished(partial(con.execute, stmt))
        except duckdb.Error as exc:
            # A damaged part breaks its view (and views over it) but not the others: the broken view
            # says why in one line, and the next run (or `newsetl check`) finds the part.
            name = _view_name(stmt)
            if name is None:
                raise
            reason = _sql_string(f"view {name} cannot be read ({str(exc).splitlines()[0]}); run `newsetl check`")
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT error({reason}) AS error")
    return con


def retry_vanished(call: Callable[[], Any], attempts: int = 3) -> Any:
    """Return call(), run again when a part it had listed was deleted before it read it.

    DuckDB lists a table's files, then opens them: a part deleted in between (a replaced part removed
    after a compaction's grace period, once per run at most) fails the statement, and listing again finds
    the files as they are now. Only for statements that read.
    """
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:  # duckdb.IOException; duckdb is imported lazily
            if attempt == attempts - 1 or "No such file or directory" not in str(exc):
                raise
    return None


@contextmanager
def views(root: Path, only: tuple[str, ...] = ()) -> Iterator[Any]:
    """Yield a connection with the views the pipeline reads (no report views) and close it afterwards."""
    con = connect(root, reports=False, only=only)
    try:
        yield con
    finally:
        con.close()


def ensure_catalog(root: Path) -> str | None:
    """Create or refresh the DuckDB catalog file; return a warning when it is locked by another process."""
    import duckdb

    path = check_root(root) / CATALOG_FILE
    if path.exists():
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                row = con.execute("SELECT value FROM _newsetl_catalog WHERE key = 'version'").fetchone()
                views = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'articles'").fetchone()
                if row and row[0] == CATALOG_VERSION and views and views[0]:
                    return None
        except duckdb.Error:
            pass  # missing table, other version, or locked: try to rebuild below
    try:
        _build_catalog(path)
    except (duckdb.Error, OSError) as exc:
        return f"catalog {path} not refreshed ({str(exc).splitlines()[0]}); the Parquet data is published"
    return None


def _build_catalog(path: Path) -> None:
    """Write the catalog file at `path` atomically: built elsewhere, then renamed over the old one.

    DuckDB binds a view when it is created, so the build folder links to the warehouse's table folders.
    Building elsewhere also keeps DuckDB's WAL out of a warehouse path it cannot handle ('?' in it),
    and readers holding the old catalog open never block the refresh.
    """
    import duckdb

    build = Path(tempfile.mkdtemp(prefix="newsetl-catalog-"))
    try:
        for name in (*TABLES, "sources"):
            (build / name).symlink_to(path.parent / name, target_is_directory=True)
        with duckdb.connect(str(build / CATALOG_FILE)) as con:
            for stmt in catalog_sql(None):
                con.execute(stmt)
            con.execute("CREATE OR REPLACE TABLE _newsetl_catalog (key VARCHAR, value VARCHAR)")
            con.execute("INSERT INTO _newsetl_catalog VALUES ('version', ?)", [CATALOG_VERSION])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.copyfile(build / CATALOG_FILE, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(build, ignore_errors=True)
