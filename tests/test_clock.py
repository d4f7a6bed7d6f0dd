"""Visibility does not trust the clock: a run committed while the wall clock stepped back stays visible and kept."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import duckdb
import pytest

from conftest import NOW, accounting, q
from newsetl import ledger, warehouse


@pytest.mark.parametrize("step", [timedelta(hours=-1), timedelta(days=-3650), timedelta(microseconds=-1), timedelta(0)])
def test_clock_stepping_back_during_a_run_hides_and_deletes_nothing(samples, run, tmp_path, monkeypatch, step):
    """The clock steps back mid-run (NTP): the run is completed and visible; archiving its files and running again keeps it."""
    wh = tmp_path / "warehouse"
    monkeypatch.setattr(ledger, "clock", lambda: NOW + step)  # every row after the start row is stamped "earlier"
    first = run(samples, wh, now=NOW)
    assert first.status == "completed"
    assert q(wh, "SELECT status FROM runs") == [("completed",)]
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 15
    # The operator archives the loaded files; the next day's file arrives; the clock is still off.
    shutil.rmtree(samples)
    samples.mkdir()
    (samples / "next.jsonl").write_text(
        json.dumps({"title": "Next day", "text": "The night ferry ran late because of fog over the harbour again."})
    )
    second = run(samples, wh, now=NOW + step + timedelta(seconds=1))
    assert second.status == "completed"
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 16, "the first run's articles are kept"
    assert sorted(r[0] for r in q(wh, "SELECT status FROM runs")) == ["completed", "completed"]
    assert accounting(wh) == (22, 22)
    # The catalog file (what duckdb -readonly users open) agrees.
    con = duckdb.connect(str(wh / warehouse.CATALOG_FILE), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (16,)
    finally:
        con.close()


def test_an_error_after_the_commit_point_does_not_unpublish(samples, run, tmp_path, monkeypatch):
    """Once the `completed` row is written the run stays completed, whatever fails afterwards."""
    wh = tmp_path / "warehouse"
    real = ledger.publish_run

    def publish_then_fail(*args, **kw):
        real(*args, **kw)
        raise OSError("disk hiccup after the commit")

    monkeypatch.setattr(ledger, "publish_run", publish_then_fail)
    with pytest.raises(OSError):
        run(samples, wh)
    assert q(wh, "SELECT status FROM runs") == [("completed",)]
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 15
    monkeypatch.undo()
    again = run(samples, wh)
    assert (again.records_in, q(wh, "SELECT count(*) FROM articles")[0][0]) == (0, 15)
