"""Daily operation end to end: a real local Prefect server, the served deployment, a run, its artifacts, the UI.

One module-scoped `newsetl serve` process (its own PREFECT_HOME and a free port) is shared by the tests
here; they talk to it through Prefect's REST API, and a headless Chromium opens its UI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from newsetl.config import SAMPLES

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(pred, timeout: float, what: str, step: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Served:
    def __init__(self, proc: subprocess.Popen, api: str, home: Path, warehouse: Path, log: Path) -> None:
        self.proc, self.api, self.home, self.warehouse, self.log = proc, api, home, warehouse, log
        self.http = httpx.Client(base_url=api, timeout=30)

    def post(self, path: str, body: dict | None = None):
        r = self.http.post(path, json=body or {})
        r.raise_for_status()
        return r.json()

    def get(self, path: str):
        r = self.http.get(path)
        r.raise_for_status()
        return r.json()

    def deployment(self):
        found = self.post("/deployments/filter", {"deployments": {"name": {"any_": ["daily"]}}})
        return found[0] if found else None


class Hook:
    """A local HTTP server that records the JSON bodies POSTed to it (the notification webhook)."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.bodies: list[dict] = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self) -> set[str]:
        return {b.get("kind") for b in self.bodies}


@pytest.fixture(scope="module")
def hook():
    h = Hook()
    yield h
    h.server.shutdown()


@pytest.fixture(scope="module")
def served(tmp_path_factory, hook):
    tmp = tmp_path_factory.mktemp("serve")
    landing = tmp / "landing"
    shutil.copytree(SAMPLES, landing)
    port = _free_port()
    env = os.environ | {
        "PREFECT_HOME": str(tmp / "prefect-home"),
        "NEWSETL_PREFECT_PORT": str(port),
        "NEWSETL_WAREHOUSE": str(tmp / "warehouse"),
        "NEWSETL_LANDING": str(landing),
        "NEWSETL_CRON": "0 6 * * *",
        "NEWSETL_TIMEZONE": "UTC",
        "NEWSETL_NOTIFY_URL": hook.url,
        "NEWSETL_NOTIFY_STALE_SECONDS": "15",  # 26 hours in production
    }
    env.pop("PREFECT_API_URL", None)
    log = tmp / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsetl.cli", "serve"],
        env=env,
        cwd=tmp,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    s = Served(proc, f"http://127.0.0.1:{port}/api", tmp / "prefect-home", tmp / "warehouse", log)
    try:
        _wait(lambda: proc.poll() is not None or _healthy(s), 240, "the Prefect server")
        assert proc.poll() is None, log.read_text()[-3000:]
        _wait(s.deployment, 120, "the served deployment")
        yield s
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _healthy(s: Served) -> bool:
    try:
        return s.http.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


def test_schedule_creates_upcoming_runs(served):
    """The cron schedule is attached and the scheduler has created upcoming runs."""
    dep = served.deployment()
    assert [sch["schedule"]["cron"] for sch in dep["schedules"]] == ["0 6 * * *"]
    assert dep["schedules"][0]["schedule"]["timezone"] == "UTC"

    def upcoming():
        return served.post(
            "/flow_runs/filter",
            {"flow_runs": {"deployment_id": {"any_": [dep["id"]]}, "state": {"type": {"any_": ["SCHEDULED"]}}}},
        )

    runs = _wait(upcoming, 150, "scheduled runs from the scheduler", step=3)
    times = sorted(r["expected_start_time"] for r in runs)
    assert all("T06:00:00" in t for t in times), times


def test_triggered_run_completes_with_artifacts_and_shows_in_the_ui(served, tmp_path):
    """A run created now is picked up, completes, publishes its artifacts, and the UI lists it."""
    port = served.api.rsplit(":", 1)[1].split("/")[0]
    env = os.environ | {"PREFECT_HOME": str(served.home), "NEWSETL_PREFECT_PORT": port}
    env.pop("PREFECT_API_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "trigger"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    run = {"id": out.stdout.split("(")[1].split(")")[0]}  # "<name> (<id>): Scheduled"
    done = _wait(
        lambda: (r := served.get(f"/flow_runs/{run['id']}"))["state_type"] in ("COMPLETED", "FAILED", "CRASHED") and r,
        300,
        "the triggered run to finish",
        step=2,
    )
    assert done["state_type"] == "COMPLETED", served.log.read_text()[-3000:]
    assert done["name"].startswith("ingest-") and done["name"].endswith("-landing")
    arts = served.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}})
    by_key = {a["key"]: a for a in arts}
    assert {"ingest-summary", "quarantine", "validation"} <= set(by_key)
    assert "articles loaded" in by_key["ingest-summary"]["data"]
    assert "## Stories" in by_key["ingest-summary"]["data"] and "new stories" in by_key["ingest-summary"]["data"]
    assert "## Outlet alerts" in by_key["ingest-summary"]["data"]
    assert "malformed_json" in str(by_key["quarantine"]["data"])
    tasks = served.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}})
    names = {t["name"] for t in tasks}
    assert any(n.startswith("parse-clean chunk-") for n in names) and any(n.startswith("publish") for n in names)
    assert any(n.startswith("stories") for n in names)

    if CHROMIUM is None:
        pytest.fail("chromium is not installed (.ci/run installs the Debian package `chromium`)")
    ui = served.api[: -len("/api")]
    shot = tmp_path / "prefect-ui-run.png"
    dom = _chromium(ui + f"/runs/flow-run/{run['id']}", shot, tmp_path, expect=done["name"])
    assert done["name"] in dom and "daily-ingest" in dom
    assert shot.stat().st_size > 10_000
    listing = _chromium(ui + "/runs", tmp_path / "prefect-ui-runs.png", tmp_path, expect=done["name"])
    assert done["name"] in listing
    out = os.environ.get("NEWSETL_SCREENSHOT_DIR")
    if out:  # how docs/prefect-ui-run.png is refreshed: NEWSETL_SCREENSHOT_DIR=docs make test
        shutil.copy(shot, Path(out) / shot.name)


def _chromium(url: str, shot: Path, tmp: Path, expect: str) -> str:
    """Load `url` in headless Chromium until the rendered DOM contains `expect`; screenshot it; return the DOM.

    The UI is a single-page app that fetches from the API after load: on a busy machine the first
    render can come before the data, so the virtual-time budget grows over up to three attempts.
    """
    dom = ""
    for budget in (15_000, 40_000, 90_000):
        flags = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1400,900",
            f"--virtual-time-budget={budget}",
            f"--user-data-dir={tmp / 'chromium-profile'}",
        ]
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
        if expect in dom:
            subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=180, check=True)
            break
    return dom


def test_manual_run_reports_to_the_running_server(served, tmp_path):
    """`newsetl run --quiet` while the server is up shows in the UI's runs; quiet: only the summary, logs to Prefect."""
    port = served.api.rsplit(":", 1)[1].split("/")[0]
    env = os.environ | {"PREFECT_HOME": str(served.home), "NEWSETL_PREFECT_PORT": port}
    env.pop("PREFECT_API_URL", None)
    before = len(served.post("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}))
    out = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "run", "--quiet", str(SAMPLES), "--warehouse", str(tmp_path / "wh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    after = served.post("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}})
    assert len(after) == before + 1
    # Quiet means quiet: the summary on stdout and nothing else on the terminal...
    assert out.stderr == "", out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].endswith(": completed") and all(line.startswith("  ") for line in lines[1:]), lines
    # ...while the run's log lines still reach Prefect (the UI shows them).
    new_run = max(after, key=lambda r: r["created"])
    logs = served.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [new_run["id"]]}}})
    assert any("published run" in log["message"] for log in logs), [log["message"] for log in logs][:20]


def _trigger(served, *args: str) -> subprocess.CompletedProcess:
    port = served.api.rsplit(":", 1)[1].split("/")[0]
    env = os.environ | {"PREFECT_HOME": str(served.home), "NEWSETL_PREFECT_PORT": port}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "trigger", *args, "--warehouse", str(served.warehouse)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_runs_queue_one_at_a_time_and_trigger_wait_tells_the_truth(served):
    """Two runs triggered together both complete, one after the other; --wait exits 1 for a Failed run, 0 when done."""
    first, second = _trigger(served), _trigger(served)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    ids = [out.stdout.split("(")[1].split(")")[0] for out in (first, second)]
    done = [
        _wait(
            lambda i=i: (r := served.get(f"/flow_runs/{i}"))["state_type"] in ("COMPLETED", "FAILED", "CRASHED") and r,
            300,
            "the queued runs",
            step=2,
        )
        for i in ids
    ]
    assert [r["state_type"] for r in done] == ["COMPLETED", "COMPLETED"], [r["state"]["message"] for r in done]
    a, b = sorted(done, key=lambda r: r["start_time"])
    assert b["start_time"] >= a["end_time"], "the second run waited for the first"

    from newsetl.warehouse import run_lock

    with run_lock(served.warehouse):  # the warehouse is busy: the triggered run fails
        failed = _trigger(served, "--wait")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout and "another newsetl run" in failed.stdout, failed.stdout
    ok = _trigger(served, "--wait")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Completed" in ok.stdout and "records_in" in ok.stdout and "completed" in ok.stdout, ok.stdout


def test_failed_and_missing_runs_are_posted_to_the_webhook(served, hook):
    """--notify: the Failed run above was posted with its name, state and message; so was 'no completed run'."""
    failed = _wait(
        lambda: [b for b in hook.bodies if b.get("kind") == "flow-run-failed"], 60, "the failure notification"
    )
    assert failed[0]["state"] == "Failed" and failed[0]["flow"] == "daily-ingest"
    assert failed[0]["flow_run"].startswith("ingest-") and "another newsetl run" in (failed[0]["message"] or "")
    stale = _wait(lambda: [b for b in hook.bodies if b.get("kind") == "no-completed-run"], 90, "the staleness alert")
    assert "no completed run of daily-ingest/daily for 15 seconds" in stale[0]["message"]


def test_stopping_pauses_the_schedule_and_the_server(served):
    """SIGTERM ends `newsetl serve` cleanly: the deployment is paused and the server it started stops."""
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(90) == 0, served.log.read_text()[-3000:]
    _wait(lambda: not _healthy(served), 30, "the server to stop")
    assert "Prefect server started" in served.log.read_text()
    import sqlite3

    con = sqlite3.connect(served.home / "prefect.db")
    try:
        paused = con.execute("SELECT paused FROM deployment WHERE name = 'daily'").fetchone()
    finally:
        con.close()
    assert paused == (1,), "stopping `newsetl serve` pauses the schedule"
