"""Report: what a run did, as markdown and small tables for people (the flow publishes them as artifacts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsetl.warehouse import connect


def quarantine_share(summary: dict[str, Any]) -> float:
    """Return the share of the run's records that were quarantined (0 when nothing was read)."""
    q = summary["parse_quarantined"] + summary["clean_quarantined"] + summary["validation_quarantined"]
    return q / summary["records_in"] if summary["records_in"] else 0.0


def broken_input_message(summary: dict[str, Any], max_share: float) -> str | None:
    """Return why a run's input counts as broken (quarantine share above `max_share`), or None."""
    share = quarantine_share(summary)
    if share <= max_share:
        return None
    reasons = ", ".join(f"{k} {v}" for k, v in list(summary.get("quarantine_reasons", {}).items())[:3])
    return (
        f"{share:.0%} of {summary['records_in']} records were quarantined, above the limit of {max_share:.0%}"
        f" (NEWSETL_MAX_QUARANTINE_SHARE); top reasons: {reasons or 'n/a'}"
    )


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def summary_markdown(s: dict[str, Any]) -> str:
    """Return the run summary as markdown: files, records, duplicates, quarantine, languages, outlets, timings."""
    q = s["parse_quarantined"] + s["clean_quarantined"] + s["validation_quarantined"]
    parts = [
        f"# Ingest run `{s['run_id']}`: {s['status']}",
        f"Landing folder `{s['landing']}` into warehouse `{s['warehouse']}`."
        + (f"\n\n**{s['message']}**" if s.get("message") else ""),
        "## Files",
        _table(
            ["seen", "new", "skipped (already loaded)", "failed"],
            [[s["files_seen"], s["files_new"], s["files_skipped"], s["files_failed"]]],
        ),
        "## Records",
        _table(
            ["records in", "articles loaded", "exact duplicates", "near duplicates", "quarantined"],
            [[s["records_in"], s["articles_loaded"], s["exact_duplicates"], s["near_duplicates"], q]],
        ),
        "## Quarantined by reason",
        _table(["reason", "records"], [[k, v] for k, v in s.get("quarantine_reasons", {}).items()])
        if s.get("quarantine_reasons")
        else "Nothing was quarantined.",
        "## Languages",
        _table(["language", "articles"], [[k, v] for k, v in s.get("languages", {}).items()])
        if s.get("languages")
        else "No articles loaded.",
        "## Outlets",
        _table(["outlet", "articles"], [[k, v] for k, v in list(s.get("outlets", {}).items())[:25]])
        if s.get("outlets")
        else "No articles loaded.",
        "## Time per stage",
        _table(["stage", "seconds"], [[k, f"{v:.2f}"] for k, v in s.get("stage_seconds", {}).items()]),
        f"Validation: {'all expectations met' if s.get('validation_success') else 'some rows failed expectations (see the validation artifact)'}.",
    ]
    return "\n\n".join(parts)


def quarantine_rows(root: Path, run_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Return up to `limit` quarantined rows of a run (stage, reason, detail, file, record)."""
    con = connect(root)
    try:
        cur = con.execute(
            "SELECT stage, reason, detail, source_file, record_no, coalesce(title, '') AS title FROM quarantine "
            "WHERE run_id = ? ORDER BY stage, reason, source_file, record_no LIMIT ?",
            [run_id, limit],
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def validation_rows(root: Path, run_id: str) -> list[dict[str, Any]]:
    """Return the run's Great Expectations results, one row per expectation."""
    con = connect(root)
    try:
        cur = con.execute(
            'SELECT expectation, coalesce("column", \'\') AS "column", success, element_count, unexpected_count '
            "FROM validations WHERE run_id = ? ORDER BY success, expectation",
            [run_id],
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
