"""Validate: the Great Expectations gate; rows failing the suite go to quarantine with the failures."""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from newsetl.schema import QUARANTINE, VALIDATIONS, from_rows

# Oldest publication date accepted (issue #2: not before 1990).
MIN_PUBLISHED = datetime(1990, 1, 1, tzinfo=UTC)
_COLUMNS = ["article_id", "title", "text", "language", "language_confidence", "url", "outlet_id", "language_method"]


def preload() -> threading.Thread:
    """Import Great Expectations (4-5 s) on a daemon thread and return it.

    A run starts this while its worker processes parse, when the run's own process only waits, and
    joins it before its next step: validation then finds GX imported.
    """
    thread = threading.Thread(target=_import_gx, name="newsetl-import-gx", daemon=True)
    thread.start()
    return thread


def _import_gx() -> None:
    # An import that fails here fails again where validation imports GX, which reports it.
    with contextlib.suppress(Exception):
        import great_expectations  # noqa: F401 - the import is the point


@lru_cache(maxsize=4)
def _validation_definition(suite_path: str) -> Any:
    """Build (once per process) an ephemeral GX context with the suite and a dataframe batch."""
    import great_expectations as gx  # 4-5 s import: only where validation runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = ctx.suites.add(gx.ExpectationSuite(**json.loads(Path(suite_path).read_text("utf-8"))))
    batch = ctx.data_sources.add_pandas("newsetl").add_dataframe_asset("articles")
    definition = batch.add_batch_definition_whole_dataframe("whole")
    return ctx.validation_definitions.add(gx.ValidationDefinition(name="articles", data=definition, suite=suite))


def _frame(articles: pa.Table) -> Any:
    """Return a numpy-backed pandas frame of the validated columns (GX is 6x faster on these)."""
    table = articles.select(_COLUMNS)
    epoch = pc.divide(pc.cast(pc.cast(articles.column("published_at"), pa.timestamp("us")), pa.int64()), 1_000_000)
    return table.append_column("published_epoch_s", pc.cast(epoch, pa.float64())).to_pandas()


def validate_articles(
    articles: pa.Table, suite_path: str | Path, now: datetime
) -> tuple[pa.Table, pa.Table, list[dict]]:
    """Return (valid articles, quarantine rows, per-expectation results) for a batch of articles.

    `now` is the upper bound for published_at (no clock inside the stage).
    """
    if articles.num_rows == 0:
        return articles, QUARANTINE.empty_table(), []
    result = _validation_definition(str(suite_path)).run(
        batch_parameters={"dataframe": _frame(articles)},
        expectation_parameters={
            "min_published_epoch_s": MIN_PUBLISHED.timestamp(),
            "max_published_epoch_s": now.timestamp(),
        },
        result_format={"result_format": "COMPLETE"},
    )
    failures: dict[int, list[tuple[str, str]]] = {}
    summary = []
    for r in result.results:
        cfg = r.expectation_config
        column = cfg.kwargs.get("column")
        reason = (cfg.meta or {}).get("reason", cfg.type)
        summary.append(
            {
                "expectation": cfg.type,
                "column": column,
                "success": bool(r.success),
                "element_count": r.result.get("element_count"),
                "unexpected_count": r.result.get("unexpected_count"),
            }
        )
        # An expectation can pass with `mostly` and still list rows: read every result.
        for idx in r.result.get("unexpected_index_list") or []:
            failures.setdefault(int(idx), []).append((reason, f"{cfg.type}({column})"))
    if not failures:
        return articles, QUARANTINE.empty_table(), summary
    bad = sorted(failures)
    mask = pa.array([i not in failures for i in range(articles.num_rows)])
    rows = articles.take(bad).to_pylist()
    quarantined = [
        {
            "record_id": row["article_id"],
            "stage": "validate",
            "reason": failures[i][0][0],
            "detail": "; ".join(f"{reason}: {exp}" for reason, exp in failures[i]),
            "title": row["title"],
            "raw": json.dumps(
                {k: row.get(k) for k in ("title", "url", "language", "published_at", "outlet_id")},
                ensure_ascii=False,
                default=str,
            )
            + "\n"
            + (row.get("text") or "")[:2000],
            "source_file": row["source_file"],
            "file_sha256": row["file_sha256"],
            "record_no": row["record_no"],
            "format": row["format"],
            "outlet_id": row.get("outlet_id"),
        }
        for i, row in zip(bad, rows, strict=True)
    ]
    return articles.filter(mask), from_rows(quarantined, QUARANTINE), summary


def summarize_results(batches: list[list[dict]], run_id: str) -> pa.Table:
    """Return one VALIDATIONS row per expectation, with counts summed over a run's batches."""
    merged: dict[tuple[str, str | None], dict] = {}
    for batch in batches:
        for r in batch:
            key = (r["expectation"], r["column"])
            m = merged.setdefault(
                key,
                {
                    "run_id": run_id,
                    "expectation": key[0],
                    "column": key[1],
                    "success": True,
                    "element_count": 0,
                    "unexpected_count": 0,
                },
            )
            m["success"] = m["success"] and r["success"]
            m["element_count"] += r["element_count"] or 0
            m["unexpected_count"] += r["unexpected_count"] or 0
    return from_rows(list(merged.values()), VALIDATIONS)
