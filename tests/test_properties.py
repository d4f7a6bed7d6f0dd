"""Property tests: parsers never crash on any bytes; Parquet write-then-read round-trips."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsetl.ingest import FileError, Issue, discover_files, read_file
from newsetl.schema import ARTICLES, conform, from_rows
from newsetl.warehouse import write_parquet

SUFFIXES = [".txt", ".json", ".jsonl", ".html", ".txt.gz", ".jsonl.gz"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES), gz_wrap=st.booleans())
def test_readers_never_crash_on_any_bytes(tmp_path_factory, data, suffix, gz_wrap):
    """Any bytes under any supported name give records, Issues, or one FileError; nothing else."""
    folder = tmp_path_factory.mktemp("bytes")
    if suffix.endswith(".gz") and gz_wrap:
        data = gzip.compress(data)
    (folder / f"f{suffix}").write_bytes(data)
    entry = next(discover_files(folder))
    try:
        for item in read_file(entry):
            assert isinstance(item, Issue) or ("record_id" in item and item["source_file"] == entry.path)
    except FileError as exc:
        assert str(exc) and "\n" not in str(exc)


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "article_id": st.uuids().map(str),
                "title": text,
                "text": text,
                "keywords": st.lists(text, max_size=4),
                "published_at": st.none() | st.datetimes(timezones=st.just(UTC), min_value=datetime(1990, 1, 1)),
                "language_confidence": st.none() | st.floats(0, 1),
                "word_count": st.integers(0, 2**31 - 1),
                "outlet_known": st.booleans(),
            }
        ),
        max_size=20,
    )
)
def test_parquet_round_trip(tmp_path_factory, rows):
    """What is written to Parquet reads back equal."""
    table = conform(from_rows(rows, ARTICLES), ARTICLES)
    path = write_parquet(table, Path(tmp_path_factory.mktemp("pq")) / "t.parquet")
    assert pq.read_table(path).equals(table)


_KEY = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(_KEY, _KEY), max_size=12),
    versions=st.lists(st.tuples(_KEY, _KEY), max_size=6),
)
def test_the_anti_join_drops_exactly_the_rows_not_exists_drops(rows, versions):
    """The views drop rows of listed file versions with warehouse.without_versions (an anti join, which
    DuckDB runs without collecting every row's keys); it keeps the same rows, duplicates and NULL keys
    included, as the correlated NOT EXISTS it replaced."""
    import duckdb
    import pyarrow as pa

    from newsetl.warehouse import without_versions

    con = duckdb.connect()
    t = pa.table(
        {"n": list(range(len(rows))), "source_file": [r[0] for r in rows], "file_sha256": [r[1] for r in rows]}
    )
    v = pa.table(
        {"path": [r[0] for r in versions], "sha256": [r[1] for r in versions]},
        schema=pa.schema([("path", pa.string()), ("sha256", pa.string())]),
    )
    t = t.cast(pa.schema([("n", pa.int64()), ("source_file", pa.string()), ("file_sha256", pa.string())]))
    con.register("t_in", t)
    con.register("versions", v)
    old = con.execute(
        "SELECT * FROM t_in t WHERE NOT EXISTS "
        "(SELECT 1 FROM versions x WHERE x.path = t.source_file AND x.sha256 = t.file_sha256) ORDER BY n"
    ).fetchall()
    new = con.execute(f"SELECT * FROM t_in t {without_versions('versions', 't', 'x')} ORDER BY n").fetchall()
    assert new == old
