"""Pipeline: the sequence of a run's steps, without Prefect (flows/daily_ingest.py runs the same sequence).

    begin_run -> plan_files -> parse_chunk (per chunk, workers) -> dedup_run
    -> tag_part (per part, workers) -> validate_parts (batches of parts) -> resolve_copies
    -> assign_run_stories -> publish_run -> compact_after_run (when the run's month holds many small parts)

Steps live in steps/, the run's bookkeeping in ledger.py, what earlier runs left in history.py, how steps execute in runners.py.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from newsetl import history, ledger, steps
from newsetl import warehouse as wh
from newsetl.compaction import compact_after_run
from newsetl.config import Settings
from newsetl.faults import fault
from newsetl.ledger import InputError, RunContext, new_run
from newsetl.runners import LocalRunner, Pool, Runner, release_memory, worker_pool
from newsetl.schema import FILES, from_rows
from newsetl.summary import RunSummary
from newsetl.validate import preload as preload_validation

__all__ = ["InputError", "RunSummary", "run_pipeline", "run_steps"]

# Runs of this many records stop their workers between parsing and tagging: the workers' memory (about
# 250 MB each) goes back while dedup holds the run's keys, and starting them again (about 2 s) is small
# beside such a run. A smaller run keeps them.
REST_BEFORE_DEDUP = 100_000
# Runs reading less than this import GX on a thread while their workers parse (4-5 s saved). A bigger run
# imports it when it validates, after its workers stopped: the import's 164 MiB then never adds to the
# workers' during parsing and tagging (at 1,000,000 articles those two stages peak highest), and 4-5 s is
# under 3 % of such a run.
PRELOAD_MAX_BYTES = 256 << 20


def run_pipeline(
    settings: Settings, now: datetime | None = None, log: Callable[[str], None] = lambda m: None
) -> RunSummary:
    """Run every stage over settings.landing into settings.warehouse; return the RunSummary."""
    ctx = new_run(settings, now)
    with wh.run_lock(Path(ctx.root)), _pool(ctx, log) as pool:
        return run_steps(ctx, LocalRunner(pool, log))


def _pool(ctx: RunContext, log: Callable[[str], None]) -> AbstractContextManager[Pool]:
    """The worker pool of this machine, or a Dask cluster when settings.cluster names one."""
    if not ctx.settings.cluster:
        return worker_pool(ctx.settings.workers)
    from newsetl.cluster import dask_pool  # imports dask: only when asked for

    return dask_pool(ctx, log)


def run_steps(ctx: RunContext, runner: Runner) -> RunSummary:
    """Run one whole run (the caller holds the warehouse lock); return its summary.

    On any error the run is recorded as failed, nothing it staged becomes visible, and the
    error is raised again.
    """
    begun: ledger.Begun = runner.one("begin-run", ledger.begin_run, ctx, retries=2)
    fault("after_begin")
    summary = RunSummary(ctx.run_id, "running", ctx.landing, ctx.root)
    if begun.repaired:
        summary.warnings.append(f"storage: {len(begun.repaired)} damaged part(s): " + "; ".join(begun.repaired))
        runner.log(summary.warnings[-1])
    timed = _timer(summary)
    try:
        with timed("discover"):
            plan: steps.Plan = runner.one("discover-files", steps.plan_files, ctx, begun.reload, retries=2)
        fault("after_discover")
        runner.log(
            f"discover: {plan.files_seen} files seen, {plan.files_skipped} already loaded, "
            f"{sum(len(c) for c in plan.chunks)} to read in {len(plan.chunks)} chunks"
        )

        # The workers parse; meanwhile this process imports GX for validation (when parsing is elsewhere and the run small).
        elsewhere = ctx.settings.workers > 1 or ctx.settings.cluster
        small = sum(e.size for c in plan.chunks for _, e in c) < PRELOAD_MAX_BYTES
        gx_import = preload_validation() if elsewhere and small else None
        with timed("parse_clean"):
            calls = [(ctx, i, c) for i, c in enumerate(plan.chunks)]
            labels = [f"chunk-{i:04d}" for i in range(len(plan.chunks))]
            chunks: list[steps.ChunkResult] = runner.many("parse-clean", steps.parse_chunk, calls, labels)
        files = pa.concat_tables([c.files for c in chunks] + [from_rows(plan.file_rows, FILES)])
        plan.chunks, calls = [], []  # a file entry per file: let them go
        _fold_parse(summary, plan, chunks, files)
        fault("after_parse")
        superseded = plan.superseded_by(files)
        runner.log(
            f"parse+clean: {summary.records_in} records in, {summary.parse_quarantined} unparseable, "
            f"{summary.clean_quarantined} rejected by cleaning"
        )

        parts = [p for c in chunks for p in c.parts]
        if summary.records_in >= REST_BEFORE_DEDUP:
            runner.rest()  # a large run's dedup keys and the idle workers need not be held at once
        if gx_import is not None:
            gx_import.join()
        with timed("dedup"):
            # Versions read again replace their own earlier rows: they are not history to dedup against.
            replaced = superseded + plan.reloaded
            dedup: steps.DedupResult = runner.one("dedup", steps.dedup_run, ctx, parts, replaced)
        fault("after_dedup")
        release_memory()
        summary.exact_duplicates, summary.near_duplicates = dedup.exact, dedup.near
        runner.log(f"dedup: {dedup.kept} unique, {dedup.exact} exact and {dedup.near} near duplicates")

        labels = [Path(p).stem for p in parts]
        with timed("language_source"):
            pairs = [(ctx, p, d) for p, d in zip(parts, dedup.decisions, strict=True)]
            tags: list[steps.TagResult] = runner.many("language-source", steps.tag_part, pairs, labels)
        runner.rest()  # the per-chunk steps are done: the rest of the run is this process's
        fault("after_tag")

        with timed("validate"):
            kept = [t for t in tags if t.tagged]
            limit = (steps.VALIDATE_ROWS, ctx.settings.batch_bytes)
            batches = steps.batches_of([str(t.tagged) for t in kept], [(t.rows, t.nbytes) for t in kept], limit)
            # A tagged part is named after its cleaned part: the task label is the first part's.
            validated: list[steps.PartResult] = [
                runner.one(f"validate {Path(b[0]).stem}", steps.validate_parts, ctx, b) for b in batches
            ]
        _fold_validate(summary, validated)
        runner.log(
            f"language+source+validate: {summary.articles_loaded} articles pass, "
            f"{summary.validation_quarantined} quarantined; languages {summary.languages}"
        )

        with timed("copies"):
            dup_parts = [t.duplicates for t in tags if t.duplicates]
            fixes = runner.one("resolve-copies", steps.resolve_copies, ctx, superseded, dup_parts, validated)
        summary.copy_fixes = fixes.counts()
        if fixes.rows:
            runner.log(f"copies of lost articles: {summary.copy_fixes}")

        with timed("stories"):
            inputs = [v.story_input for v in validated if v.story_input]
            promoted = str(ctx.stage.run_table("articles")) if fixes.promoted else None
            told: steps.StoryResult = runner.one(
                "stories", steps.assign_run_stories, ctx, inputs, promoted, dup_parts, superseded + plan.reloaded
            )
        release_memory()
        summary.stories = told.as_dict()
        runner.log(
            f"stories: {told.articles} articles -> {told.new} new stories, {told.grew} grown, {told.merged} merged"
        )

        fault("after_validate")
        with timed("publish"):
            validation = [v.validation for v in validated if v.validation]
            args = (ctx, summary, files, validation, superseded)
            reasons = sum((c.reasons for c in chunks), Counter()) + sum((v.reasons for v in validated), Counter())
            summary.quarantine_reasons = dict(reasons.most_common())
            summary = runner.one("publish", ledger.publish_run, *args, retries=2)
        runner.log(f"published run {ctx.run_id}: {summary.articles_loaded} articles loaded")
        summary.outlet_alerts = runner.one("outlet-alerts", history.outlet_alerts_of_day, ctx)
        for a in summary.outlet_alerts:
            runner.log(f"outlet alert: {a['outlet_name'] or a['outlet_id']}: {a['detail']}")
        if ctx.settings.compact_min_parts:
            release_memory()  # what publish and stories freed: compaction's buffers start from a small process
            s = ctx.settings
            with timed("compact"):
                done = runner.one(
                    "compact",
                    compact_after_run,
                    ctx.root,
                    ctx.ingest_date,
                    s.compact_min_parts,
                    s.compact_grace_seconds,
                )
            runner.log(done.line())
            if done.error or done.skipped:
                summary.warnings.append(done.line())
        return summary
    except BaseException as exc:
        ledger.fail_run(ctx, summary, f"{type(exc).__name__}: {exc}")
        raise


def _timer(summary: RunSummary) -> Callable[[str], AbstractContextManager[None]]:
    """Return a context manager factory that records a stage's seconds in summary.stage_seconds."""

    @contextmanager
    def timed(stage: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        summary.stage_seconds[stage] = round(time.perf_counter() - t, 3)

    return timed


def _fold_parse(summary: RunSummary, plan: steps.Plan, chunks: list[steps.ChunkResult], files: pa.Table) -> None:
    """Fold the discover and parse results into the summary."""
    summary.files_seen, summary.files_skipped = plan.files_seen, plan.files_skipped
    summary.files_new = files.num_rows
    summary.files_failed = (
        files.num_rows - pc.sum(pc.equal(files.column("status"), "loaded")).as_py() if files.num_rows else 0
    )
    summary.records_in = sum(c.records_in for c in chunks)
    summary.parse_quarantined = sum(c.parse_quarantined for c in chunks)
    summary.clean_quarantined = sum(c.clean_quarantined for c in chunks)


def _fold_validate(summary: RunSummary, validated: list[steps.PartResult]) -> None:
    """Fold the per-part validation results into the summary."""
    langs: Counter = Counter()
    outlets: Counter = Counter()
    for v in validated:
        summary.articles_loaded += v.loaded
        summary.validation_quarantined += v.validation_quarantined
        langs.update(v.languages)
        outlets.update(v.outlets)
        summary.validation_success = summary.validation_success and all(r["success"] for r in v.validation)
    summary.languages = dict(langs.most_common())
    summary.outlets = dict(outlets.most_common())
