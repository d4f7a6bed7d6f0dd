"""Contracts: one Arrow schema constant per table the pipeline produces or publishes."""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

# Provenance shared by every record-level table: where a record came from.
_PROVENANCE = [
    pa.field("record_id", pa.string(), nullable=False),
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("file_sha256", pa.string(), nullable=False),
    pa.field("record_no", pa.int32(), nullable=False),
    pa.field("format", pa.string(), nullable=False),
]

# What a parser hands to the cleaner: fields as found, nothing normalised yet.
RAW = pa.schema(
    _PROVENANCE
    + [
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("outlet_meta", pa.string()),  # explicit source/site_name/outlet field
        pa.field("outlet_header", pa.string()),  # outlet line of text layout A
        pa.field("site_name", pa.string()),  # HTML og:site_name / trafilatura sitename
        pa.field("folder", pa.string()),  # landing sub-folder the file sits in
        pa.field("published_raw", pa.string()),
        pa.field("author", pa.string()),
        pa.field("language_given", pa.string()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("category", pa.string()),
        pa.field("title_method", pa.string()),  # header | first_sentence | feed | html
        pa.field("file_modified", TS),  # the file's modification time: what relative dates count from
    ]
)

# After cleaning: normalised text and fields, plus the dedup fingerprints.
CLEAN = pa.schema(
    _PROVENANCE
    + [
        pa.field("ingest_order", pa.int64(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("outlet_meta", pa.string()),
        pa.field("outlet_header", pa.string()),
        pa.field("outlet_trailer", pa.string()),
        pa.field("site_name", pa.string()),
        pa.field("folder", pa.string()),
        pa.field("published_at", TS),
        pa.field("published_offset", pa.string()),
        pa.field("published_raw", pa.string()),
        pa.field("author", pa.string()),
        pa.field("language_given", pa.string()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("category", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("text_hash", pa.string()),
        pa.field("title_method", pa.string()),
        pa.field("file_modified", TS),
        pa.field("published_precision", pa.string()),
        pa.field("published_method", pa.string()),
    ]
)

# Published table: one row per kept article.
ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("outlet_id", pa.string()),
        pa.field("outlet_name", pa.string()),
        pa.field("outlet_known", pa.bool_()),
        pa.field("outlet_method", pa.string()),
        pa.field("outlet_raw", pa.string()),
        pa.field("author", pa.string()),
        pa.field("category", pa.string()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("published_at", TS),
        pa.field("published_offset", pa.string()),
        pa.field("language", pa.string()),
        pa.field("language_confidence", pa.float64()),
        pa.field("language_method", pa.string()),
        pa.field("language_given", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("text_hash", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("file_sha256", pa.string()),
        pa.field("record_no", pa.int32()),
        pa.field("format", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
        pa.field("title_method", pa.string()),  # header | first_sentence | feed | html
        pa.field("published_precision", pa.string()),  # second | day | month | year
        pa.field("published_method", pa.string()),  # iso | rfc2822 | dateutil | dateparser | relative_to_file_time
        pa.field("wire", pa.string()),  # the agency the text credits (stories.wire_credit): AP, Reuters, AFP, dpa...
    ]
)

# Every dropped copy, with what it duplicates. It keeps the cleaned fields an article is made of, so a
# copy can be promoted to an article when the one it copies is lost (superseded or quarantined).
DUPLICATES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),  # exact | near
        pa.field("similarity", pa.float64()),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("published_at", TS),
        pa.field("text_hash", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("file_sha256", pa.string()),
        pa.field("record_no", pa.int32()),
        pa.field("format", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
        # Added with copy promotion (older parts read them as null).
        pa.field("ingest_order", pa.int64()),
        pa.field("outlet_meta", pa.string()),
        pa.field("outlet_header", pa.string()),
        pa.field("outlet_trailer", pa.string()),
        pa.field("site_name", pa.string()),
        pa.field("folder", pa.string()),
        pa.field("published_offset", pa.string()),
        pa.field("author", pa.string()),
        pa.field("language_given", pa.string()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("category", pa.string()),
        pa.field("word_count", pa.int32()),
        # Added with stories: the copy's own outlet and wire credit (syndication: who ran whose text).
        pa.field("outlet_id", pa.string()),
        pa.field("outlet_name", pa.string()),
        pa.field("wire", pa.string()),
    ]
)

# What a run did to copies whose article was lost (superseded by a correction, or quarantined by
# validation), so every row of `duplicates` points at a row of `articles`. Published rows are never
# rewritten: the views apply these.
COPY_FIXES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),  # the copy
        pa.field("action", pa.string(), nullable=False),  # promoted | repointed | demoted
        pa.field("lost", pa.string(), nullable=False),  # the article it copied, now gone
        pa.field("target", pa.string()),  # repointed: the article it copies now
        pa.field("reason", pa.string()),  # demoted: copy_of_quarantined | copy_of_superseded
        pa.field("detail", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# Every record that could not be loaded, with the stage and the reason.
QUARANTINE = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),  # parse | clean | validate
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("title", pa.string()),
        pa.field("raw", pa.string()),  # the record (or a prefix of it) as it was read
        pa.field("outlet_id", pa.string()),  # when the outlet was known (validate stage): outlet health
        pa.field("source_file", pa.string()),
        pa.field("file_sha256", pa.string()),
        pa.field("record_no", pa.int32()),
        pa.field("format", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# One row per file version seen (path + content hash).
FILES = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("size", pa.int64()),
        pa.field("format", pa.string()),
        pa.field("status", pa.string(), nullable=False),  # loaded | failed | unsupported
        pa.field("record_count", pa.int32()),
        pa.field("error", pa.string()),
        pa.field("first_run_id", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# One row per run state change; the `runs` view keeps the latest row of each run.
RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # running | completed | failed | incomplete
        pa.field("started_at", TS),
        pa.field("updated_at", TS),
        pa.field("landing", pa.string()),
        pa.field("files_seen", pa.int64()),
        pa.field("files_new", pa.int64()),
        pa.field("files_skipped", pa.int64()),
        pa.field("files_failed", pa.int64()),
        pa.field("records_in", pa.int64()),
        pa.field("parse_quarantined", pa.int64()),
        pa.field("clean_quarantined", pa.int64()),
        pa.field("exact_duplicates", pa.int64()),
        pa.field("near_duplicates", pa.int64()),
        pa.field("validation_quarantined", pa.int64()),
        pa.field("articles_loaded", pa.int64()),
        pa.field("validation_success", pa.bool_()),
        pa.field("stage_seconds", pa.string()),  # JSON object: stage -> seconds
        pa.field("message", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# The dedup memory: fingerprints of every loaded article, so later runs never re-read texts.
DEDUP_INDEX = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("text_hash", pa.string(), nullable=False),
        pa.field("published_at", TS),
        pa.field("signature", pa.list_(pa.uint32())),
        pa.field("bands", pa.list_(pa.int64())),
        pa.field("source_file", pa.string()),
        pa.field("file_sha256", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# The story memory: one row per loaded article with the story it joined and its story terms (hashed
# words of title and lead with counts), so later runs compare with history without re-reading texts.
# `story_id` never changes once published; story_merges records stories found to be one.
STORY_INDEX = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("event_time", TS),  # published_at, or the run's start for undated articles
        pa.field("dated", pa.bool_()),  # false: event_time is the ingest time (the article has no date)
        pa.field("ingested_at", TS),  # the start of the run that loaded it
        pa.field("linked_to", pa.string()),  # the earlier article it joined the story through (null: started it)
        pa.field("similarity", pa.float64()),  # cosine similarity to linked_to
        pa.field("title", pa.string()),
        pa.field("outlet_id", pa.string()),
        pa.field("language", pa.string()),
        pa.field("terms", pa.list_(pa.uint32())),
        pa.field("counts", pa.list_(pa.uint16())),
        pa.field("source_file", pa.string()),
        pa.field("file_sha256", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# Two published stories found to be one: `story_id` now reads as `merged_into` (views resolve chains).
STORY_MERGES = pa.schema(
    [
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("merged_into", pa.string(), nullable=False),
        pa.field("article_id", pa.string()),  # the article that linked them
        pa.field("similarity", pa.float64()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# A corrected file (same path, new content) supersedes its earlier versions' articles.
SUPERSESSIONS = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),  # the earlier version
        pa.field("superseded_by", pa.string(), nullable=False),  # the new version's sha256
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# Per-run Great Expectations outcome, one row per expectation.
VALIDATIONS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("expectation", pa.string()),
        pa.field("column", pa.string()),
        pa.field("success", pa.bool_()),
        pa.field("element_count", pa.int64()),
        pa.field("unexpected_count", pa.int64()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# The outlet registry as published.
SOURCES = pa.schema(
    [
        pa.field("outlet_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("aliases", pa.list_(pa.string())),
        pa.field("domains", pa.list_(pa.string())),
        pa.field("country", pa.string()),
        pa.field("language", pa.string()),
    ]
)

# The manifest of published parts: what each run published, with checksums (newsetl check, self-healing).
_VERSION = pa.struct([pa.field("path", pa.string()), pa.field("sha256", pa.string())])
PARTS = pa.schema(
    [
        pa.field("table", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),  # path relative to the warehouse root
        pa.field("size", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("sources", pa.list_(_VERSION)),  # the file versions whose records the part holds
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# What runs did about damaged or missing published parts (storage.py): one row per damaged part and
# file version it held. `reloaded` versions were read again from the landing folder and the rows they
# had in `hidden_run` are hidden, so nothing is doubled; `lost` ones were no longer there.
REPAIRS = pa.schema(
    [
        pa.field("damaged_part", pa.string(), nullable=False),  # relative to the warehouse root
        pa.field("table", pa.string()),
        pa.field("problem", pa.string()),  # missing | size | checksum | unreadable
        pa.field("outcome", pa.string()),  # reloaded | lost | restored | recreated | set_aside
        pa.field("path", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("hidden_run", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("ingest_date", pa.date32()),
    ]
)

# What compaction did (compaction.py): one row per part it added or retired. A compaction's record is
# its commit: the views show its added parts and hide the ones it retired from the moment the record
# exists. An added part's sources name the run whose rows of each file version it holds (a `runs` part:
# the committed runs whose state rows it holds, path and sha256 null).
_SOURCE_RUN = pa.struct(
    [pa.field("path", pa.string()), pa.field("sha256", pa.string()), pa.field("run_id", pa.string())]
)
COMPACTIONS = pa.schema(
    [
        pa.field("compaction_id", pa.string(), nullable=False),
        pa.field("table", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),  # path relative to the warehouse root
        pa.field("role", pa.string(), nullable=False),  # added | retired
        pa.field("size", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("sources", pa.list_(_SOURCE_RUN)),  # added parts
        pa.field("run_id", pa.string()),  # retired parts: the run that published it (null: an earlier compaction)
        pa.field("committed_at", TS),
        pa.field("ingest_date", pa.date32()),  # the day the compaction ran
    ]
)

# ---- Intermediate tables: staged between the steps of one run, never published.

# MinHash fingerprints of a text (dedup.fingerprint_texts), kept from parse to the dedup index.
_FINGERPRINTS = [pa.field("signature", pa.list_(pa.uint32())), pa.field("bands", pa.list_(pa.int64()))]

# A parsed-and-cleaned part (parse step -> dedup and tag steps).
STAGED = pa.schema(list(CLEAN) + _FINGERPRINTS)

# The dedup step's verdict on each record of a staged part, in the part's row order.
DECISIONS = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # kept | exact | near
        pa.field("duplicate_of", pa.string()),
        pa.field("similarity", pa.float64()),
    ]
)

# Story terms of an article (stories.article_terms), made in the tag step's workers.
_STORY_TERMS = [pa.field("terms", pa.list_(pa.uint32())), pa.field("counts", pa.list_(pa.uint16()))]

# Kept records with language and outlet (tag step -> validate step): article columns, fingerprints, story terms.
TAGGED = pa.schema(list(ARTICLES) + _FINGERPRINTS + _STORY_TERMS)

# A run's valid articles as the story step reads them (validate step -> story step).
STORY_INPUT = pa.schema(
    [
        f
        for f in STORY_INDEX
        if f.name not in ("story_id", "linked_to", "similarity", "event_time", "dated", "ingested_at")
    ]
    + [pa.field("published_at", TS)]
)

# Published tables: name -> schema. Order is the publish order.
TABLES: dict[str, pa.Schema] = {
    "articles": ARTICLES,
    "duplicates": DUPLICATES,
    "quarantine": QUARANTINE,
    "files": FILES,
    "dedup_index": DEDUP_INDEX,
    "validations": VALIDATIONS,
    "supersessions": SUPERSESSIONS,
    "copy_fixes": COPY_FIXES,
    "story_index": STORY_INDEX,
    "story_merges": STORY_MERGES,
    "repairs": REPAIRS,
    "parts": PARTS,
    "runs": RUNS,
    "compactions": COMPACTIONS,
}


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Return `table` with exactly the columns of `schema`, in order, cast to its types."""
    cols = []
    for field in schema:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=schema)


def from_rows(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Return a table of `schema` built from a list of dicts (missing keys become null)."""
    if not rows:
        return schema.empty_table()
    return pa.Table.from_pylist(rows, schema=schema)


def struct_lists(tables: list[pa.Table], field: pa.Field) -> pa.ChunkedArray:
    """Return a column of `field` (a list of structs) with one row per table: that table's rows, cast to the
    struct's fields. A chunk per row, so the tables are not copied into one buffer (a manifest at 1,000,000
    articles lists about 1.5 million file versions)."""
    kinds = list(field.type.value_type)
    return pa.chunked_array(
        [
            pa.ListArray.from_arrays(
                pa.array([0, t.num_rows], pa.int32()),
                pa.StructArray.from_arrays(
                    [t.column(f.name).combine_chunks().cast(f.type) for f in kinds], fields=kinds
                ),
                type=field.type,
            )
            for t in tables
        ],
        field.type,
    )


def with_columns(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    """Return `table` with each named column replaced, or appended when it is new."""
    for name, arr in columns.items():
        idx = table.schema.get_field_index(name)
        table = table.set_column(idx, name, arr) if idx >= 0 else table.append_column(name, arr)
    return table
