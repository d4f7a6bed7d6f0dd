"""`--cluster`: the per-chunk steps on Dask workers leave the same warehouse as a local run, and bad clusters are named.

Two real clusters: a LocalCluster the flow starts (two worker processes), and a scheduler and workers
started here as separate processes with `newsetl run --cluster tcp://...` as a third. Both warehouses
are compared, row by row in every view, with a local run's (run ids and run start times aside).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsetl.config import SAMPLES, ClusterError
from newsetl.views import VIEWS

ROOT = Path(__file__).resolve().parents[1]
# Columns that name the run or the moment it ran, not the data: they differ between any two runs.
VOLATILE = {
    *("run_id", "first_run_id", "ingest_date", "started_at", "updated_at", "stage_seconds", "ingested_at"),
    *("compaction_id", "committed_at"),
}
VOLATILE_IN = {
    "runs": {"landing"},
    "parts": {"size", "sha256"},  # part files hold run ids, so their bytes differ
    "compactions": {"size", "sha256"},
    # arg_min(..., event_time) among articles with the same event time picks any of them: two local runs of
    # one folder can differ here too (4,000 generated articles: 81 of 2,441 stories), so these say nothing.
    "stories": {"headline", "first_outlet"},
}


def snapshot(wh: Path) -> dict[str, list[str]]:
    """Every view's rows, sorted, without run or compaction ids and with run start times (undated articles') masked."""
    from newsetl.warehouse import connect

    con = connect(wh)

    def q(sql: str) -> list[tuple]:
        return con.execute(sql).fetchall()

    runs = q("SELECT run_id, started_at FROM runs")
    masks = {rid: "<run>" for rid, _ in runs}
    masks |= {cid: "<compaction>" for (cid,) in q("SELECT DISTINCT compaction_id FROM compactions")}
    starts = {started for _, started in runs}

    def norm(value: object) -> object:
        if isinstance(value, dt.datetime) and value in starts:
            return "<run start>"
        if isinstance(value, str):
            for rid, mask in masks.items():
                value = value.replace(rid, mask)
            return value
        if isinstance(value, list | tuple):
            return [norm(v) for v in value]
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        return value

    out = {}
    for view in VIEWS:
        drop = VOLATILE | VOLATILE_IN.get(view, set())
        cols = [c for (c, *_) in q(f"DESCRIBE {view}") if c not in drop]
        rows = q(f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM {view}")
        out[view] = sorted(repr(norm(list(r))) for r in rows)
    con.close()
    return out


def assert_same_warehouse(got: Path, want: Path) -> None:
    a, b = snapshot(got), snapshot(want)
    assert a["articles"] and a["duplicates"] and a["quarantine"] and a["files"]
    for view in VIEWS:
        assert a[view] == b[view], f"{view} differs: {sorted(set(a[view]) ^ set(b[view]))[:3]}"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    """One copy of the samples for every run here (so `files` and `runs` name the same folder)."""
    dest = tmp_path_factory.mktemp("cluster") / "landing"
    shutil.copytree(SAMPLES, dest)
    return dest


@pytest.fixture(scope="module")
def prefect_harness():
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        pytest.MonkeyPatch.context() as mp,
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        mp.setenv("NEWSETL_WORKERS", "2")
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="module")
def local_run(prefect_harness, landing, tmp_path_factory) -> Path:
    """The warehouse of today's local run: the daily-ingest flow on this machine's worker pool."""
    from newsetl_flows.daily_ingest import daily_ingest

    wh = tmp_path_factory.mktemp("local") / "wh"
    summary = daily_ingest(landing=str(landing), warehouse=str(wh))
    assert (summary.status, summary.articles_loaded) == ("completed", 15)
    return wh


def _task_runs(flow_run_id) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {t.name: t.state.type.value for t in tasks}


def _flow_logs(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        return [log.message for log in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))]


@pytest.mark.slow
def test_local_cluster_run_writes_the_warehouse_a_local_run_writes(prefect_harness, landing, local_run, tmp_path):
    """--cluster local: parse and tag run as task runs on a two-process LocalCluster; every view matches a local run."""
    from newsetl_flows.daily_ingest import daily_ingest

    wh = tmp_path / "wh"
    state = daily_ingest(landing=str(landing), warehouse=str(wh), cluster="local", return_state=True)
    assert state.is_completed(), state.message
    assert_same_warehouse(wh, local_run)

    run_id = state.state_details.flow_run_id
    # The workers reported to this flow's API (a worker without its URL would record them on a server of its own).
    tasks = _task_runs(run_id)
    assert tasks["parse-clean chunk-0000"] == "COMPLETED" and tasks["language-source c00000-0000"] == "COMPLETED"
    assert any(m.startswith("dask: 2 workers on 1 host(s)") for m in _flow_logs(run_id))


@pytest.fixture
def dask_cluster(tmp_path) -> Iterator[str]:
    """A Dask scheduler and two single-threaded workers as separate processes (free ports); yield its address."""
    from distributed import Client

    info = tmp_path / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSETL_"))}  # nothing from here
    procs: list[subprocess.Popen] = []

    def start(module: str, *args: str) -> None:
        with open(tmp_path / "dask.log", "ab") as log:
            cmd = [sys.executable, "-m", module, *args, "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
            procs.append(
                subprocess.Popen(
                    cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    try:
        start("distributed.cli.dask_scheduler", "--port", "0", "--scheduler-file", str(info))
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        start("distributed.cli.dask_worker", address, "--nworkers", "2", "--nthreads", "1")
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for proc in procs[::-1]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs[::-1]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.mark.slow
def test_cli_run_on_a_separate_scheduler_writes_the_warehouse_a_local_run_writes(
    prefect_harness, landing, local_run, dask_cluster, tmp_path
):
    """`newsetl run --cluster tcp://...` (workers started without any Prefect setting): same warehouse as a local run."""
    wh = tmp_path / "wh"
    env = os.environ | {"PREFECT_API_URL": prefect_harness, "PREFECT_HOME": str(tmp_path / "prefect")}
    out = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--quiet", "--cluster", dask_cluster, str(landing)]
        + ["--warehouse", str(wh)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "15 articles" in out.stdout
    assert_same_warehouse(wh, local_run)

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=20)
    run = next(r for r in runs if r.parameters.get("warehouse") == str(wh))
    assert run.parameters["cluster"] == dask_cluster
    tasks = _task_runs(run.id)
    assert tasks["parse-clean chunk-0000"] == "COMPLETED" and tasks["language-source c00000-0000"] == "COMPLETED"
    assert any(m.startswith("dask: 2 workers on 1 host(s)") for m in _flow_logs(run.id))


def test_unreachable_scheduler_is_one_line_and_exit_2(samples, tmp_path, monkeypatch, capsys):
    """A scheduler nobody answers at: exit 2 and one line naming the address; nothing is written."""
    import socket

    from newsetl import cluster
    from newsetl.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{port}"
    assert main(["run", "--no-prefect", "--cluster", address, str(samples), "--warehouse", str(tmp_path / "wh")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsetl: error: cannot reach the Dask scheduler at " + address) and "\n" not in err, err
    assert not list((tmp_path / "wh").glob("*/*.parquet"))


def _report(**changes: object) -> dict:
    import newsetl

    good = {
        "host": "w1",
        "newsetl": newsetl.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "landing": True,
        "shared": True,
        "writable": True,
        "api": True,
    }
    return good | changes


def test_workers_that_cannot_run_the_steps_are_named():
    """Another newsetl or Python, a landing folder or warehouse not shared: ClusterError naming each worker."""
    from newsetl.cluster import judge_workers

    reports = {
        "tcp://a:1": _report(newsetl="0.0.1"),
        "tcp://b:1": _report(host="w2", landing=False),
        "tcp://c:1": _report(host="w3", shared=False),
        "tcp://d:1": _report(host="w4", python="2.7"),
    }
    with pytest.raises(ClusterError) as err:
        judge_workers(reports, "/data/landing", "/data/wh", None)
    msg = str(err.value)
    assert "worker tcp://a:1 (w1) runs newsetl 0.0.1" in msg
    assert "worker tcp://b:1 (w2) cannot read the landing folder /data/landing" in msg
    assert "worker tcp://c:1 (w3) does not see this run's warehouse /data/wh" in msg
    assert "(and 1 more)" in msg and "shared filesystem" in msg and "\n" not in msg
    with pytest.raises(ClusterError, match="no workers"):
        judge_workers({}, "/l", "/w", None)


def test_workers_that_cannot_reach_the_prefect_api_are_listed_not_refused():
    """A worker that cannot reach the flow's API can still run steps: it is listed (the flow falls back), not refused."""
    from newsetl.cluster import judge_workers

    reports = {"tcp://a:1": _report(), "tcp://b:1": _report(host="w2", api=False)}
    workers = judge_workers(reports, "/l", "/w", "http://10.0.0.4:4200/api")
    assert workers.unreachable == ["tcp://b:1"] and workers.hosts == ["w1", "w2"]
    assert judge_workers(reports, "/l", "/w", None).unreachable == []  # no API to reach: plain Dask tasks
    assert workers.line() == "dask: 2 workers on 2 host(s) (w1, w2)"


def test_without_a_cluster_dask_is_never_imported():
    """The library, the CLI and the flow module load without dask: only a run with a cluster imports it."""
    code = (
        "import sys, newsetl.cli, newsetl.pipeline, newsetl.runners, newsetl_flows.daily_ingest; "
        "print(sorted(m for m in ('dask', 'distributed', 'prefect_dask') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
