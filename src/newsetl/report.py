"""Report: what a run did and what a query returned, as text, markdown and small tables for people."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from newsetl.summary import RunSummary
from newsetl.warehouse import connect


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def summary_markdown(s: RunSummary) -> str:
    """Return the run summary as markdown: files, records, duplicates, quarantine, languages, outlets, timings."""
    parts = [
        f"# Ingest run `{s.run_id}`: {s.status}",
        f"Landing folder `{s.landing}` into warehouse `{s.warehouse}`." + (f"\n\n**{s.message}**" if s.message else ""),
        "## Files",
        _table(
            ["seen", "new", "skipped (already loaded)", "failed"],
            [[s.files_seen, s.files_new, s.files_skipped, s.files_failed]],
        ),
        "## Records",
        _table(
            ["records in", "articles loaded", "exact duplicates", "near duplicates", "quarantined"],
            [[s.records_in, s.articles_loaded, s.exact_duplicates, s.near_duplicates, s.quarantined]],
        ),
        "## Quarantined by reason",
        _table(["reason", "records"], [[k, v] for k, v in s.quarantine_reasons.items()])
        if s.quarantine_reasons
        else "Nothing was quarantined.",
        "## Languages",
        _table(["language", "articles"], [[k, v] for k, v in s.languages.items()])
        if s.languages
        else "No articles loaded.",
        "## Outlets",
        _table(["outlet", "articles"], [[k, v] for k, v in list(s.outlets.items())[:25]])
        if s.outlets
        else "No articles loaded.",
        "## Stories",
        _stories_markdown(s),
        "## Outlet alerts",
        _table(
            ["outlet", "metric", "today", "trailing 14 days", "what changed"],
            [
                [a["outlet_name"] or a["outlet_id"], a["metric"], _cell(a["value"]), _cell(a["trailing"]), a["detail"]]
                for a in s.outlet_alerts
            ],
        )
        if s.outlet_alerts
        else "No outlet changed against its trailing two weeks.",
        "## Time per stage",
        _table(["stage", "seconds"], [[k, f"{v:.2f}"] for k, v in s.stage_seconds.items()]),
        f"Validation: {'all expectations met' if s.validation_success else 'some rows failed expectations (see the validation artifact)'}.",
    ]
    return "\n\n".join(parts)


def _stories_markdown(s: RunSummary) -> str:
    st = s.stories
    if not st:
        return "No stories: no articles loaded."
    head = f"{st.get('new', 0)} new stories, {st.get('grew', 0)} earlier stories grew, {st.get('merged', 0)} merged."
    rows = [[x["headline"], x["outlets"], x["articles"], f"`{x['story_id']}`"] for x in st.get("largest", [])]
    return head + ("\n\n" + _table(["largest stories today", "outlets", "articles", "story_id"], rows) if rows else "")


def summary_lines(s: RunSummary) -> str:
    """Return a run summary as the few lines a person reads after a run."""
    lines = [
        f"run {s.run_id}: {s.status}" + (f" ({s.message})" if s.message else ""),
        f"  files      {s.files_seen} seen, {s.files_new} new, {s.files_skipped} already loaded, {s.files_failed} failed",
        f"  records    {s.records_in} read -> {s.articles_loaded} articles, "
        f"{s.exact_duplicates} exact + {s.near_duplicates} near duplicates, {s.quarantined} quarantined",
    ]
    if s.quarantine_reasons:
        lines.append("  quarantine " + ", ".join(f"{k} {v}" for k, v in s.quarantine_reasons.items()))
    if s.copy_fixes:
        lines.append("  copies     " + ", ".join(f"{v} {k}" for k, v in s.copy_fixes.items()) + " (of lost articles)")
    if s.languages:
        lines.append("  languages  " + ", ".join(f"{k} {v}" for k, v in s.languages.items()))
    if s.outlets:
        lines.append("  outlets    " + ", ".join(f"{k} {v}" for k, v in list(s.outlets.items())[:12]))
    if s.stories:
        st = s.stories
        lines.append(f"  stories    {st.get('new', 0)} new, {st.get('grew', 0)} grew, {st.get('merged', 0)} merged")
        for x in st.get("largest", [])[:3]:
            lines.append(f"             {x['outlets']} outlets, {x['articles']} articles: {_cell(x['headline'])}")
    for a in s.outlet_alerts[:10]:
        lines.append(f"  alert      {a['outlet_name'] or a['outlet_id']}: {a['detail']}")
    if s.stage_seconds:
        lines.append("  seconds    " + ", ".join(f"{k} {v:.2f}" for k, v in s.stage_seconds.items()))
    lines.append(f"  warehouse  {s.warehouse}")
    lines += [f"  warning    {w}" for w in s.warnings]
    return "\n".join(lines)


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


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    s = str(v).replace("\n", " ")
    return s if len(s) <= 60 else s[:57] + "..."


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """Return query results as an aligned table, CSV, or JSON lines' array."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, r, strict=True)) for r in rows], ensure_ascii=False, default=str, indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        w.writerows([["" if v is None else v for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
