"""Outlet health: the outlet_alerts rule on crafted daily rows, and alerts reaching a run's summary."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from conftest import q, random_text
from newsetl import health

DAY0 = date(2026, 11, 1)


def daily(rows: list[dict]) -> pa.Table:
    base = {
        "outlet_id": "o",
        "outlet_name": "Outlet",
        "articles": 20,
        "copies": 0,
        "quarantined": 0,
        "share_undated": 0.0,
        "share_no_author": 0.1,
        "median_words": 400.0,
        "share_quarantined": 0.0,
        "share_duplicated": 0.0,
    }
    return pa.Table.from_pylist([base | r for r in rows])


def alerts(rows: list[dict]) -> list[tuple]:
    con = duckdb.connect()
    con.register("d", daily(rows))
    return con.execute(f"SELECT day, metric FROM ({health.alerts_sql('d')}) ORDER BY day, metric").fetchall()


def days(n: int, **today: object) -> list[dict]:
    return [{"day": DAY0 + timedelta(days=i)} for i in range(n)] + [{"day": DAY0 + timedelta(days=n)} | today]


def test_dates_going_missing_alert_and_steady_days_do_not():
    assert alerts(days(5)) == []
    assert alerts(days(5, share_undated=0.9)) == [(DAY0 + timedelta(days=5), "share_undated")]


@pytest.mark.parametrize(
    ("today", "metric"),
    [
        ({"share_no_author": 0.5}, "share_no_author"),
        ({"share_quarantined": 0.4}, "share_quarantined"),
        ({"share_duplicated": 0.6}, "share_duplicated"),
        ({"median_words": 150.0}, "median_words"),
        ({"median_words": 900.0}, "median_words"),
        ({"articles": 3}, "volume"),
        ({"articles": 100}, "volume"),
    ],
)
def test_each_metric_alerts_on_a_jump_against_its_trailing_two_weeks(today, metric):
    assert alerts(days(6, **today)) == [(DAY0 + timedelta(days=6), metric)]


@pytest.mark.parametrize(
    ("history", "today"),
    [
        (2, {"share_undated": 0.9}),  # two earlier days are too few to judge
        (6, {"share_undated": 0.25}),  # a rise under 30 points
        (6, {"share_undated": 0.9, "articles": 3}),  # three records: too few to judge
        (6, {"median_words": 250.0}),  # shorter, not halved
    ],
)
def test_no_alert_on_thin_history_small_days_or_small_changes(history, today):
    got = alerts(days(history, **today))
    assert ("share_undated" not in [m for _, m in got]) and ("median_words" not in [m for _, m in got])


def test_only_the_trailing_fourteen_days_count():
    # Undated for a while a month ago, dated since: the old days are outside the window.
    rows = [{"day": DAY0 + timedelta(days=i), "share_undated": 1.0} for i in range(5)]
    rows += [{"day": DAY0 + timedelta(days=i)} for i in range(20, 25)]
    rows += [{"day": DAY0 + timedelta(days=25), "share_undated": 0.9}]
    assert alerts(rows) == [(DAY0 + timedelta(days=25), "share_undated")]


def test_an_outlet_whose_dates_go_missing_shows_up_in_the_run_summary(tmp_path, run):
    rng = random.Random(5)
    landing, wh = tmp_path / "landing", tmp_path / "warehouse"
    landing.mkdir()
    start = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)
    for d in range(5):
        now = start + timedelta(days=d)
        recs = [
            {"title": f"Harbour news {d}-{i}", "text": random_text(rng), "source": "Riverside Gazette"}
            | ({} if d == 4 else {"published_at": (now - timedelta(hours=i + 1)).isoformat()})
            for i in range(6)
        ]
        (landing / f"day{d}.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
        summary = run(landing, wh, now=now)
    assert [(a["outlet_name"], a["metric"]) for a in summary.outlet_alerts] == [("Riverside Gazette", "share_undated")]
    assert q(wh, "SELECT count(*) FROM outlet_alerts")[0][0] == 1
    assert q(wh, "SELECT share_undated FROM outlet_daily WHERE day = ?", (start + timedelta(days=4)).date()) == [(1.0,)]
