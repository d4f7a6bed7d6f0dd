"""The daily-ingest flow under Prefect's test harness: wiring, task names, counts (logic is tested elsewhere)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prefect_harness(tmp_path_factory):
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


def test_daily_ingest_flow_runs_the_pipeline_as_tasks(prefect_harness, samples, tmp_path, monkeypatch):
    """The flow loads the samples, names its run after the day, and shows one task run per step."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from newsetl_flows.daily_ingest import daily_ingest

    monkeypatch.setenv("NEWSETL_WORKERS", "2")
    state = daily_ingest(landing=str(samples), warehouse=str(tmp_path / "wh"), return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert summary.articles_loaded == 15 and summary.status == "completed"

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        assert run.name.startswith("ingest-") and run.name.endswith("-landing")
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    names = sorted(t.name for t in tasks)
    assert {"begin-run", "discover-files", "dedup", "publish"} <= {n.rsplit("-", 1)[0] for n in names}
    assert any(n.startswith("parse-clean chunk-") for n in names)
    assert any(n.startswith("language-source c") for n in names)
    assert any(n.startswith("validate c") for n in names)
    assert all(t.state.is_completed() for t in tasks)


def test_flow_run_is_rerun_safe(prefect_harness, samples, tmp_path):
    """A second flow run over the same folder completes and loads nothing new."""
    from newsetl_flows.daily_ingest import daily_ingest

    wh = str(tmp_path / "wh")
    daily_ingest(landing=str(samples), warehouse=wh)
    again = daily_ingest(landing=str(samples), warehouse=wh)
    assert (again.files_skipped, again.records_in, again.articles_loaded) == (11, 0, 0)


def test_broken_input_ends_the_run_failed_with_the_reason(prefect_harness, tmp_path, monkeypatch):
    """More than NEWSETL_MAX_QUARANTINE_SHARE of records quarantined: the flow run is Failed and says why."""
    import json

    from newsetl_flows.daily_ingest import BrokenInput, daily_ingest

    landing = tmp_path / "landing"
    landing.mkdir()
    good = {"title": "A proper title", "text": "The ferry resumes its winter timetable on Monday, the operator said."}
    lines = [json.dumps(good)] + ["{broken"] * 3
    (landing / "feed.jsonl").write_text("\n".join(lines))
    monkeypatch.setenv("NEWSETL_MAX_QUARANTINE_SHARE", "0.5")
    state = daily_ingest(landing=str(landing), warehouse=str(tmp_path / "wh"), return_state=True)
    assert state.is_failed()
    assert "75% of 4 records were quarantined" in state.message and "malformed_json 3" in state.message
    with pytest.raises(BrokenInput) as err:
        state.result()
    summary = err.value.summary
    assert (summary.status, summary.articles_loaded, summary.parse_quarantined) == ("completed", 1, 3)


def test_flow_replaces_a_worker_stuck_on_one_file(prefect_harness, tmp_path, monkeypatch):
    """Under Prefect too: a file over NEWSETL_FILE_TIMEOUT is failed: timeout and the flow run completes."""
    import json

    from newsetl_flows.daily_ingest import daily_ingest

    landing = tmp_path / "landing"
    landing.mkdir()
    for f in range(4):
        rows = [
            {"title": f"Story {f}-{i}", "text": f"The ferry {f} runs late on day {i} because of fog."} for i in range(2)
        ]
        (landing / f"feed-{f}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    monkeypatch.setenv("NEWSETL_WORKERS", "2")
    monkeypatch.setenv("NEWSETL_FILE_TIMEOUT", "3")
    monkeypatch.setenv("NEWSETL_STALL_ON", "feed-2.jsonl")
    state = daily_ingest(landing=str(landing), warehouse=str(tmp_path / "wh"), return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary.files_failed, summary.articles_loaded) == (1, 6)
