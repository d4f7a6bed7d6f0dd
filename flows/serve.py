"""Serve daily-ingest on a cron schedule, with a local Prefect server started (or reused) for it.

`newsetl serve` calls serve_daily(); the server runs as a child process with a project-local
PREFECT_HOME (SQLite database, logs) and telemetry off. Nothing here imports Prefect at module
level: PREFECT_API_URL must be in the environment before Prefect is first imported.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from newsetl.config import Settings

DEPLOYMENT = "daily"


def prefect_home() -> Path:
    """Return PREFECT_HOME, defaulting to ./.prefect (project-local)."""
    return Path(os.environ.get("PREFECT_HOME") or ".prefect").resolve()


def prefect_env(api_url: str | None = None) -> dict[str, str]:
    """Return the environment variables newsetl sets for Prefect (home, telemetry, API URL)."""
    env = {
        "PREFECT_HOME": str(prefect_home()),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def api_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/api"


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Return True when a Prefect API answers its health check at `url`."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_server(host: str, port: int, wait: float = 180.0) -> subprocess.Popen | None:
    """Start `prefect server start` on host:port unless a server already answers there.

    Returns the child process, or None when an existing server is reused. Its output goes to
    $PREFECT_HOME/server.log.
    """
    url = api_url(host, port)
    if healthy(url):
        return None
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    prefect_bin = Path(sys.executable).with_name("prefect")
    # The UI asks the server where the API is; without these it would say port 4200 whatever --port is.
    env = (
        os.environ
        | prefect_env()
        | {
            "PREFECT_SERVER_API_HOST": host,
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_UI_API_URL": url,
        }
    )
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [str(prefect_bin), "server", "start", "--host", host, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with code {proc.returncode}; see {home / 'server.log'}")
        if healthy(url):
            return proc
        time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"prefect server did not answer on {url} within {wait:.0f} s; see {home / 'server.log'}")


def stop_server(proc: subprocess.Popen | None, grace: float = 20.0) -> None:
    """Stop a server started by start_server (SIGTERM to its process group, then SIGKILL)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def serve_daily(settings: Settings) -> None:
    """Start or reuse the local server, then serve the daily-ingest deployment until SIGTERM/Ctrl-C.

    Stopping pauses the deployment's schedule (Prefect's pause_on_shutdown) and stops the server
    if this command started it.
    """
    url = api_url(settings.prefect_host, settings.prefect_port)
    os.environ.update(prefect_env(url))
    proc = start_server(settings.prefect_host, settings.prefect_port)
    print(f"Prefect server {'started' if proc else 'reused'} at {url} (UI: {url[:-4]})", flush=True)
    try:
        if settings.notify_url:
            from newsetl_flows.notify import setup_notifications

            setup_notifications(settings.notify_url, f"daily-ingest/{DEPLOYMENT}", settings.notify_stale_seconds)
            print(
                f"Notifications: POST to {settings.notify_url} when a run fails or crashes, and when no run "
                f"completed for {settings.notify_stale_seconds} s",
                flush=True,
            )
        from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
        from prefect.deployments.runner import EntrypointType
        from prefect.schedules import Cron

        from newsetl_flows.daily_ingest import daily_ingest

        # One run at a time: a run triggered while another runs waits (AwaitingConcurrencySlot), then runs.
        one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
        daily_ingest.with_options(timeout_seconds=settings.flow_timeout).serve(
            name=DEPLOYMENT,
            schedules=[Cron(settings.cron, timezone=settings.timezone)],
            parameters={
                "landing": str(Path(settings.landing).resolve()),
                "warehouse": str(Path(settings.warehouse).resolve()),
                "cluster": settings.cluster,
            },
            description="Ingest the landing folder into the newsetl warehouse.",
            tags=["newsetl"],
            entrypoint_type=EntrypointType.MODULE_PATH,
            pause_on_shutdown=True,
            global_limit=one_at_a_time,
        )
    finally:
        _pause_schedule()
        stop_server(proc)


def _pause_schedule() -> None:
    """Pause daily-ingest/daily's schedule (no runs pile up while nothing serves them).

    Prefect's runner pauses on shutdown by itself, but forgets to once it has executed a run that waited
    for a concurrency slot (Runner._execute_flow_run clears pause_on_shutdown), so do it here as well.
    """
    from prefect.client.orchestration import get_client

    with contextlib.suppress(Exception), get_client(sync_client=True) as client:  # noqa: BLE001 - best effort on stop
        client.pause_deployment(client.read_deployment_by_name(f"daily-ingest/{DEPLOYMENT}").id)


def trigger_run(settings: Settings, wait: bool = False) -> tuple[str, str | None]:
    """Create a run of the served deployment now; return its line and, when waited for, its final state type.

    The state type is the Prefect one (COMPLETED, FAILED, CRASHED, CANCELLED, ...); None without `wait`.
    """
    os.environ.update(prefect_env(api_url(settings.prefect_host, settings.prefect_port)))
    if not healthy(os.environ["PREFECT_API_URL"]):
        raise RuntimeError(f"no Prefect server at {os.environ['PREFECT_API_URL']}: start it with `newsetl serve`")
    from prefect.deployments import run_deployment

    run = run_deployment(f"daily-ingest/{DEPLOYMENT}", timeout=None if wait else 0)
    assert not inspect.isawaitable(run)  # called from sync code: the sync variant ran
    state = run.state.name if run.state else "Scheduled"
    line = f"{run.name} ({run.id}): {state}"
    if run.state and run.state.message and not run.state.is_completed():
        line += f" - {run.state.message}"
    return line, (run.state.type.value if wait and run.state else None)
