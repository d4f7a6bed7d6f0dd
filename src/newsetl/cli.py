"""The `newsetl` command: run the daily-ingest flow, query the warehouse, show what it holds.

The one door to Prefect: `run`, `serve` and `trigger` import newsetl_flows (the repository's flows/
folder) inside the command, so `newsetl --help` and `newsetl query` never pay for importing Prefect
or Great Expectations. Exit codes are newsetl.summary's EXIT_* (listed in the README).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from newsetl.config import ClusterError, InputError, Settings, SettingsError
from newsetl.views import VIEWS

EXAMPLE_QUERY = (
    "SELECT outlet_name, language, count(*) AS articles FROM articles GROUP BY ALL ORDER BY articles DESC LIMIT 10"
)


class UserError(Exception):
    """A mistake the user can fix; printed as one line, exit code 2."""


def _warehouse(args: argparse.Namespace) -> Path:
    return Path(args.warehouse or os.environ.get("NEWSETL_WAREHOUSE") or "warehouse")


def _prefect_env(settings: Settings, quiet: bool = False) -> None:
    """Prefect defaults: a project-local home, no telemetry; the local server when one is up.

    With `newsetl serve` running, a manual `newsetl run` reports to the same server (it shows in the
    UI); otherwise Prefect's local mode starts a temporary server for the run. Quiet: Prefect's
    console handler (which also carries GX's log lines) shows nothing; its API handler still sends
    every log line to the server, so the run's logs are in the UI.
    """
    from newsetl_flows.serve import api_url, healthy, prefect_env

    for key, value in prefect_env().items():
        os.environ.setdefault(key, value)
    if quiet:
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
    if "PREFECT_API_URL" not in os.environ:
        url = api_url(settings.prefect_host, settings.prefect_port)
        if healthy(url, timeout=0.5):
            os.environ["PREFECT_API_URL"] = url


def cmd_run(args: argparse.Namespace) -> int:
    from newsetl.report import summary_lines
    from newsetl.summary import RunSummary, broken_input, exit_code

    settings = Settings.from_env(landing=args.landing, warehouse=_warehouse(args), cluster=args.cluster)
    if not Path(settings.landing).is_dir():
        raise UserError(f"landing folder {settings.landing} does not exist or is not a folder")
    if not any(p.is_file() for p in Path(settings.landing).rglob("*")):
        raise UserError(f"landing folder {settings.landing} has no files")
    summary: RunSummary
    if args.no_prefect:
        from newsetl.pipeline import run_pipeline

        summary = run_pipeline(settings, log=(lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr)))
    else:
        _prefect_env(settings, quiet=args.quiet)
        from newsetl_flows.daily_ingest import BrokenInput, daily_ingest

        state = daily_ingest(
            landing=str(settings.landing),
            warehouse=str(settings.warehouse),
            cluster=settings.cluster,
            return_state=True,
        )
        try:
            summary = state.result()
        except InputError as exc:
            raise UserError(str(exc)) from None
        except BrokenInput as exc:  # the flow run is Failed; the summary says what was published
            summary = exc.summary
    print(summary_lines(summary))
    problem = broken_input(summary, settings.max_quarantine_share)
    if problem:
        print(f"newsetl: run failed: {problem}", file=sys.stderr)
    elif not args.quiet:
        print(f'\nExample query: newsetl query "{EXAMPLE_QUERY}"\n')
        print(_run_query(Path(settings.warehouse), EXAMPLE_QUERY, "table"))
    return exit_code(summary, settings.max_quarantine_share)


def _run_query(root: Path, sql: str, fmt: str) -> str:
    from newsetl.query import QueryRefused, run_query

    if not root.is_dir():
        raise UserError(f"warehouse {root} does not exist yet: run `newsetl run` first")
    try:
        columns, rows = run_query(root, sql)
    except QueryRefused as exc:
        raise UserError(str(exc)) from None
    from newsetl.report import format_rows

    return "(ok)" if columns is None else format_rows(columns, rows, fmt)


def cmd_query(args: argparse.Namespace) -> int:
    print(_run_query(_warehouse(args), args.sql, args.format))
    return 0


STATS_SQL = {
    "tables": """SELECT 'articles' AS "table", count(*) AS "rows" FROM articles UNION ALL
                 SELECT 'duplicates', count(*) FROM duplicates UNION ALL
                 SELECT 'quarantine', count(*) FROM quarantine UNION ALL
                 SELECT 'files', count(*) FROM files UNION ALL
                 SELECT 'runs', count(*) FROM runs UNION ALL
                 SELECT 'sources', count(*) FROM sources""",
    "runs": """SELECT run_id, status, files_new, records_in, articles_loaded,
                      exact_duplicates + near_duplicates AS duplicates,
                      parse_quarantined + clean_quarantined + validation_quarantined AS quarantined
               FROM runs ORDER BY run_id DESC LIMIT 5""",
    "languages": "SELECT language, count(*) AS articles FROM articles GROUP BY 1 ORDER BY 2 DESC",
    "quarantine": "SELECT stage, reason, count(*) AS records FROM quarantine GROUP BY ALL ORDER BY records DESC",
}


def cmd_stats(args: argparse.Namespace) -> int:
    root = _warehouse(args)
    for title, sql in STATS_SQL.items():
        print(f"== {title}")
        print(_run_query(root, sql, "table"))
        print()
    return 0


def cmd_rebuild_catalog(args: argparse.Namespace) -> int:
    from newsetl.warehouse import CATALOG_FILE, ensure_catalog, init_warehouse

    root = _warehouse(args)
    if not root.is_dir():
        raise UserError(f"warehouse {root} does not exist")
    init_warehouse(root)
    (root / CATALOG_FILE).unlink(missing_ok=True)
    warning = ensure_catalog(root)
    if warning:
        raise UserError(warning)
    print(f"rebuilt {root / CATALOG_FILE} from the Parquet files")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from newsetl import storage
    from newsetl.ledger import committed_and_repaired
    from newsetl.summary import EXIT_FAILED, EXIT_OK

    root = _warehouse(args)
    if not root.is_dir():
        raise UserError(f"warehouse {root} does not exist")
    committed, handled = committed_and_repaired(root)
    health = storage.check_parts(root, committed, full=True)
    damage = [d for d in health.damage if d.name not in handled]
    for d in damage:
        print(f"damaged  {d.line()}")
    if damage and args.repair:
        from newsetl.warehouse import run_lock

        movable = [d for d in damage if d.table != "runs"]  # a run's state rows are restored by the next run
        with run_lock(root):  # no run may publish while parts move
            for d in movable:
                storage.set_aside(root, d)
        print(f"set {len(movable)} part(s) aside under {root / storage.DAMAGED}; the next `newsetl run` reloads them")
    if damage:
        if not args.repair:
            print(
                f"checked {health.checked} parts: {len(damage)} damaged; the next `newsetl run` sets aside the ones "
                "whose size changed, `newsetl check --repair` all of them; their files are then read again"
            )
        return EXIT_FAILED
    print(f"checked {health.checked} parts: every part is readable and matches its size and checksum")
    return EXIT_OK


def cmd_compact(args: argparse.Namespace) -> int:
    from newsetl.compaction import CompactionError, compact_warehouse
    from newsetl.warehouse import run_lock

    root = _warehouse(args)
    if not root.is_dir():
        raise UserError(f"warehouse {root} does not exist")
    settings = Settings.from_env(warehouse=root)
    grace = settings.compact_grace_seconds if args.grace is None else args.grace
    with run_lock(root):  # no run publishes while parts are rewritten
        try:
            done = compact_warehouse(root, args.min_parts, grace)
        except CompactionError as exc:
            raise UserError(str(exc)) from None
    print(done.line())
    return 0


def _serve_settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        landing=getattr(args, "landing", None),
        warehouse=_warehouse(args),
        cron=getattr(args, "cron", None),
        timezone=getattr(args, "timezone", None),
        prefect_port=args.port,
        notify_url=getattr(args, "notify", None),
        cluster=getattr(args, "cluster", None),
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _serve_settings(args)
    if not Path(settings.landing).is_dir():
        raise UserError(f"landing folder {settings.landing} does not exist or is not a folder")
    from newsetl_flows.serve import serve_daily

    print(
        f"Serving daily-ingest/daily on cron '{settings.cron}' ({settings.timezone}): "
        f"{settings.landing} -> {settings.warehouse}"
        + (f", per-chunk steps on Dask ({settings.cluster})" if settings.cluster else "")
        + ". Stop with Ctrl-C or SIGTERM.",
        flush=True,
    )
    try:
        serve_daily(settings)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    return 0


def cmd_trigger(args: argparse.Namespace) -> int:
    from newsetl.summary import EXIT_BROKEN_INPUT, EXIT_FAILED, EXIT_OK, is_broken_input
    from newsetl_flows.serve import trigger_run

    settings = _serve_settings(args)
    try:
        line, state = trigger_run(settings, wait=args.wait)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    print(line)
    if not args.wait:
        return EXIT_OK
    if Path(settings.warehouse).is_dir():  # what the run left in the warehouse (the run summary's counts)
        print(_run_query(Path(settings.warehouse), LAST_RUN_SQL, "table"))
    if state == "COMPLETED":
        return EXIT_OK
    # A flow run Failed by the broken-input policy published its data: the same exit code as `newsetl run`.
    return EXIT_BROKEN_INPUT if state == "FAILED" and is_broken_input(line) else EXIT_FAILED


LAST_RUN_SQL = """SELECT run_id, status, records_in, articles_loaded, exact_duplicates + near_duplicates AS duplicates,
       parse_quarantined + clean_quarantined + validation_quarantined AS quarantined, message
FROM runs ORDER BY run_id DESC LIMIT 1"""


CLUSTER_HELP = (
    "run the per-chunk steps on Dask: `local` (a LocalCluster of NEWSETL_WORKERS processes) or a scheduler "
    "address such as tcp://10.0.0.5:8786 (default: $NEWSETL_CLUSTER; empty: this machine's worker pool)"
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="newsetl",
        description="ETL for news articles: landing folder in, clean deduplicated articles out (Parquet + DuckDB).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  newsetl run                      # ingest the bundled samples into ./warehouse\n"
        "  newsetl run /data/landing --warehouse /data/wh\n"
        '  newsetl query "SELECT language, count(*) FROM articles GROUP BY 1"\n  newsetl stats',
    )
    p.add_argument("--warehouse", help="warehouse folder (default: $NEWSETL_WAREHOUSE or ./warehouse)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str, example: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.add_argument(
            "--warehouse",
            default=argparse.SUPPRESS,
            help="warehouse folder (default: $NEWSETL_WAREHOUSE or ./warehouse)",
        )
        return sp

    r = add(
        "run",
        "Ingest a landing folder (default: the bundled samples) with the daily-ingest flow.",
        "newsetl run samples/landing --warehouse warehouse",
    )
    r.add_argument("landing", nargs="?", help="landing folder (default: $NEWSETL_LANDING or the bundled samples)")
    r.add_argument("--no-prefect", action="store_true", help="run the plain pipeline without Prefect")
    r.add_argument("--quiet", action="store_true", help="print only the run summary")
    r.add_argument("--cluster", metavar="ADDRESS", help=CLUSTER_HELP)
    r.set_defaults(func=cmd_run)

    q = add(
        "query",
        "Run SQL on the warehouse and print the result.",
        'newsetl query "SELECT reason, count(*) FROM quarantine GROUP BY 1" --format csv',
    )
    q.epilog = "views:\n" + "\n".join(f"  {name:<15} {doc}" for name, doc in VIEWS.items()) + "\n\n" + (q.epilog or "")
    q.add_argument("sql", help="a DuckDB SQL statement over the views below")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    q.set_defaults(func=cmd_query)

    s = add(
        "stats",
        "Show what the warehouse holds: table sizes, recent runs, languages, quarantine.",
        "newsetl stats --warehouse warehouse",
    )
    s.set_defaults(func=cmd_stats)

    v = add(
        "serve",
        "Start (or reuse) the local Prefect server and serve daily-ingest on a cron schedule.",
        'newsetl serve --cron "0 6 * * *" --timezone Europe/Kyiv',
    )
    v.add_argument("landing", nargs="?", help="landing folder (default: $NEWSETL_LANDING or the bundled samples)")
    v.add_argument("--cron", help='cron expression (default: $NEWSETL_CRON or "0 6 * * *")')
    v.add_argument("--timezone", help="time zone of the cron expression (default: $NEWSETL_TIMEZONE or UTC)")
    v.add_argument("--port", type=int, help="Prefect server port on 127.0.0.1 (default: $NEWSETL_PREFECT_PORT or 4200)")
    v.add_argument(
        "--notify",
        metavar="URL",
        help="POST JSON to URL when a run fails or crashes, or none completed for 26 h (default: $NEWSETL_NOTIFY_URL)",
    )
    v.add_argument("--cluster", metavar="ADDRESS", help=CLUSTER_HELP)
    v.set_defaults(func=cmd_serve)

    g = add(
        "trigger",
        "Run the served daily-ingest deployment now (`newsetl serve` must be running).",
        "newsetl trigger --wait",
    )
    g.add_argument("--port", type=int, help="Prefect server port (default: $NEWSETL_PREFECT_PORT or 4200)")
    g.add_argument(
        "--wait",
        action="store_true",
        help="wait for the run to finish; exit 0 when it completed, 4 for broken input, 1 when it failed or crashed",
    )
    g.set_defaults(func=cmd_trigger)

    k = add(
        "check",
        "Verify every published part against the manifest (size, checksum) and that it reads; exit 1 on damage.",
        "newsetl check --warehouse warehouse",
    )
    k.add_argument("--repair", action="store_true", help="set damaged parts aside (the next run reloads their files)")
    k.set_defaults(func=cmd_check)

    m = add(
        "compact",
        "Rewrite each table's small parts of a month into few large ones (same rows, fewer files; readers never wait).",
        "newsetl compact --warehouse warehouse",
    )
    m.add_argument(
        "--min-parts",
        type=int,
        default=1,
        metavar="N",
        help="compact a table's month when it holds more than N small parts (default 1)",
    )
    m.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="keep the replaced parts this long for queries already reading them "
        "(default: $NEWSETL_COMPACT_GRACE_SECONDS or 3600; 0 when nobody is reading)",
    )
    m.set_defaults(func=cmd_compact)

    c = add(
        "rebuild-catalog",
        "Recreate warehouse/newsetl.duckdb from the Parquet files alone.",
        "newsetl rebuild-catalog --warehouse warehouse",
    )
    c.set_defaults(func=cmd_rebuild_catalog)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from newsetl.summary import EXIT_BUSY, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (UserError, SettingsError, InputError, ClusterError) as exc:
        print(f"newsetl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("newsetl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - anything unexpected still gets one readable line
        from newsetl.warehouse import WarehouseBusy

        if isinstance(exc, WarehouseBusy):
            print(f"newsetl: error: {exc}", file=sys.stderr)
            return EXIT_BUSY
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, BrokenProcessPool):
            print(
                "newsetl: error: a worker process died (killed, or out of memory); the run is recorded as "
                "failed and nothing was published - run again",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print(f"newsetl: error: {type(exc).__name__}: {exc} (set NEWSETL_DEBUG=1 for the traceback)", file=sys.stderr)
        if os.environ.get("NEWSETL_DEBUG"):
            raise
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
