"""Each step on its own: called on a small staged input, it writes what it says and returns those paths."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import NOW, q, random_text
from newsetl import history, ledger, steps
from newsetl.config import Settings
from newsetl.ledger import InputError, RunContext
from newsetl.schema import DECISIONS, DEDUP_INDEX, DUPLICATES, QUARANTINE, STAGED, TAGGED
from newsetl.staging import StagePaths, is_run_id, new_run_id, published_name, run_of_published
from newsetl.summary import EXIT_BROKEN_INPUT, EXIT_FAILED, EXIT_OK, RunSummary, broken_input, exit_code


def record(i: int, **kw: object) -> dict:
    """A valid feed record; texts of different i share no 5-word window."""
    return {"title": f"Harbour story {i}", "text": random_text(random.Random(i)), "source": "Harbour Times"} | kw


def write_jsonl(path: Path, records: list[dict | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    root.mkdir()
    return root


@pytest.fixture
def ctx(landing: Path, tmp_path: Path) -> RunContext:
    """A begun run (workers 1) over tmp_path/landing into tmp_path/wh."""
    settings = Settings.from_env(landing=landing, warehouse=tmp_path / "wh", workers=1)
    context = ledger.new_run(settings, NOW)
    ledger.begin_run(context)
    return context


def parsed(ctx: RunContext) -> steps.ChunkResult:
    plan = steps.plan_files(ctx)
    return steps.parse_chunk(ctx, 0, [e for chunk in plan.chunks for e in chunk])


def test_plan_files_chunks_new_versions_and_lists_files_it_will_not_read(ctx, landing, monkeypatch):
    """plan_files: readable files go into bounded chunks; unsupported files get a row; an empty folder fails."""
    for i in range(5):
        write_jsonl(landing / f"feed-{i}.jsonl", [record(i)])
    (landing / "notes.docx").write_bytes(b"PK\x03\x04")
    monkeypatch.setattr(steps.plan, "CHUNK_FILES", 2)
    plan = steps.plan_files(ctx)
    assert [len(c) for c in plan.chunks] == [2, 2, 1]
    assert (plan.files_seen, plan.files_skipped) == (6, 0)
    assert [(r["path"], r["status"]) for r in plan.file_rows] == [("notes.docx", "unsupported")]
    assert plan.earlier_versions == {}
    for f in landing.iterdir():
        f.unlink()
    with pytest.raises(InputError, match="has no files"):
        steps.plan_files(ctx)


def test_parse_chunk_writes_staged_parts_and_their_quarantine(ctx, landing):
    """parse_chunk: cleaned records in STAGED parts, unreadable/rejected ones in quarantine parts, one row per file."""
    write_jsonl(landing / "feed.jsonl", [record(1), "{broken", record(2, title="")])
    write_jsonl(landing / "more.jsonl", [record(3)])
    res = parsed(ctx)
    assert (res.records_in, res.parse_quarantined, res.clean_quarantined) == (4, 1, 1)
    assert dict(res.reasons) == {"malformed_json": 1, "missing_title": 1}
    assert len(res.parts) == 1 and len(res.quarantine) == 1
    part = pq.read_table(res.parts[0])
    assert part.schema == STAGED
    assert sorted(part.column("title").to_pylist()) == ["Harbour story 1", "Harbour story 3"]
    assert all(len(s) == 100 for s in part.column("signature").to_pylist())
    assert Path(res.parts[0]).is_relative_to(ctx.stage.dir)
    quarantine = pq.read_table(res.quarantine[0])
    assert quarantine.schema == QUARANTINE
    assert set(quarantine.column("run_id").to_pylist()) == {ctx.run_id}
    stage_reason = zip(quarantine.column("stage").to_pylist(), quarantine.column("reason").to_pylist(), strict=True)
    assert sorted(stage_reason) == [
        ("clean", "missing_title"),
        ("parse", "malformed_json"),
    ]
    assert sorted((r["path"], r["status"], r["record_count"]) for r in res.files.to_pylist()) == [
        ("feed.jsonl", "loaded", 3),
        ("more.jsonl", "loaded", 1),
    ]


def test_parse_chunk_flushes_bounded_batches(ctx, landing):
    """parse_chunk writes a new part every settings.batch_size records."""
    write_jsonl(landing / "feed.jsonl", [record(i) for i in range(7)])
    small = RunContext(ctx.run_id, ctx.started_at, ctx.landing, ctx.root, Settings.from_env(batch_size=3, workers=1))
    res = parsed(small)
    assert [pq.read_metadata(p).num_rows for p in res.parts] == [3, 3, 1]
    assert len(set(res.parts)) == 3


def test_dedup_run_writes_one_decisions_part_per_part(ctx, landing):
    """dedup_run: a decisions part per staged part, in its row order; copies point at the kept record."""
    original = record(1)
    write_jsonl(landing / "a.jsonl", [original, record(2)])
    write_jsonl(landing / "b.jsonl", [original | {"title": "Copied"}])
    res = parsed(ctx)
    dedup = steps.dedup_run(ctx, res.parts)
    assert (dedup.kept, dedup.exact, dedup.near) == (2, 1, 0)
    assert len(dedup.decisions) == len(res.parts)
    for part, decisions in zip(res.parts, dedup.decisions, strict=True):
        table = pq.read_table(decisions)
        assert table.schema == DECISIONS
        assert table.column("record_id").equals(pq.read_table(part).column("record_id"))
    rows = [r for d in dedup.decisions for r in pq.read_table(d).to_pylist()]
    kept = {r["record_id"] for r in rows if r["status"] == "kept"}
    [copy] = [r for r in rows if r["status"] == "exact"]
    assert copy["duplicate_of"] in kept
    assert steps.dedup_run(ctx, []) == steps.DedupResult()


def test_tag_part_splits_copies_and_tags_the_kept(ctx, landing):
    """tag_part: copies go to a DUPLICATES part, kept records to a TAGGED part with language and outlet."""
    original = record(1, lang=None)
    write_jsonl(landing / "feed.jsonl", [original, original, record(2)])
    res = parsed(ctx)
    dedup = steps.dedup_run(ctx, res.parts)
    tag = steps.tag_part(ctx, res.parts[0], dedup.decisions[0])
    assert tag.duplicates and tag.tagged
    dups = pq.read_table(tag.duplicates)
    assert dups.schema == DUPLICATES and dups.column("method").to_pylist() == ["exact"]
    tagged = pq.read_table(tag.tagged)
    assert tagged.schema == TAGGED and tagged.num_rows == 2
    assert set(tagged.column("language").to_pylist()) == {"en"}
    assert set(tagged.column("outlet_name").to_pylist()) == {"Harbour Times"}
    with pytest.raises(RuntimeError, match="do not match"):
        steps.tag_part(ctx, res.parts[0], str(write_decisions_for_other_records(ctx, dedup)))


def write_decisions_for_other_records(ctx: RunContext, dedup: steps.DedupResult) -> Path:
    table = pq.read_table(dedup.decisions[0])
    other = ctx.stage.dir / "other.parquet"
    pq.write_table(table.slice(1), other)
    return other


def test_validate_part_writes_articles_index_and_quarantine(ctx, landing):
    """validate_parts of one part: valid rows become articles + dedup-index parts, failing rows a quarantine part."""
    future = (NOW + timedelta(days=30)).isoformat()
    write_jsonl(landing / "feed.jsonl", [record(1), record(2, published_at=future)])
    res = parsed(ctx)
    dedup = steps.dedup_run(ctx, res.parts)
    tag = steps.tag_part(ctx, res.parts[0], dedup.decisions[0])
    assert tag.tagged
    out = steps.validate_parts(ctx, [tag.tagged])
    assert (out.loaded, out.validation_quarantined) == (1, 1)
    assert dict(out.reasons) == {"published_at_out_of_range": 1}
    assert out.languages == {"en": 1} and out.outlets == {"Harbour Times": 1}
    assert any(not r["success"] for r in out.validation)
    written = {Path(p).parent.name: pq.read_table(p) for p in out.written}
    assert set(written) == {"articles", "dedup_index", "quarantine"}
    assert written["articles"].column("title").to_pylist() == ["Harbour story 1"]
    assert written["dedup_index"].schema == DEDUP_INDEX
    assert written["quarantine"].column("stage").to_pylist() == ["validate"]
    assert not Path(tag.tagged).exists(), "the tagged part is consumed"


def test_validate_parts_validates_several_tagged_parts_at_once(ctx, landing):
    """validate_parts: one GX run over several tagged parts gives each row the verdict it gets alone,
    writes one set of parts named after the first, and consumes every input."""
    future = (NOW + timedelta(days=30)).isoformat()
    write_jsonl(landing / "feed.jsonl", [record(1), record(2, published_at=future), record(3), record(4)])
    res = parsed(ctx)
    dedup = steps.dedup_run(ctx, res.parts)
    tag = steps.tag_part(ctx, res.parts[0], dedup.decisions[0])
    assert tag.tagged and tag.rows == 4 and tag.nbytes > 0
    whole = pq.read_table(tag.tagged)
    first, second = Path(tag.tagged).with_name("a.parquet"), Path(tag.tagged).with_name("b.parquet")
    pq.write_table(whole.slice(0, 2), first)
    pq.write_table(whole.slice(2), second)
    Path(tag.tagged).unlink()
    out = steps.validate_parts(ctx, [str(first), str(second)])
    assert (out.loaded, out.validation_quarantined) == (3, 1)
    assert dict(out.reasons) == {"published_at_out_of_range": 1}
    written = {Path(p).parent.name: pq.read_table(p) for p in out.written}
    assert sorted(written["articles"].column("title").to_pylist()) == [f"Harbour story {i}" for i in (1, 3, 4)]
    assert written["dedup_index"].num_rows == 3
    assert {Path(p).name for p in out.written} == {"a.parquet", "v-a.parquet"}
    assert not first.exists() and not second.exists()


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 5000)), max_size=30), st.integers(1, 60), st.integers(1, 6000)
)
def test_validation_batches_keep_order_and_stay_under_both_limits(sizes, max_rows, max_bytes):
    """Parts go to GX in order, in batches of at most max_rows rows and max_bytes bytes (a bigger part
    alone), greedily filled."""
    parts = [f"p{i}" for i in range(len(sizes))]
    size = dict(zip(parts, sizes, strict=True))
    batches = steps.batches_of(parts, sizes, (max_rows, max_bytes))
    assert [p for b in batches for p in b] == parts
    assert all(b for b in batches)

    def total(b: list[str], k: int) -> int:
        return sum(size[p][k] for p in b)

    assert all(len(b) == 1 or (total(b, 0) <= max_rows and total(b, 1) <= max_bytes) for b in batches)
    for b, nxt in zip(batches, batches[1:], strict=False):
        over = total(b, 0) + size[nxt[0]][0] > max_rows or total(b, 1) + size[nxt[0]][1] > max_bytes
        assert over, "a batch closes only when the next part does not fit"


def test_publish_run_commits_and_fail_run_discards(ctx, landing, tmp_path):
    """publish_run moves the staged parts and writes the `completed` row; fail_run publishes nothing."""
    write_jsonl(landing / "feed.jsonl", [record(1)])
    res = parsed(ctx)
    dedup = steps.dedup_run(ctx, res.parts)
    tag = steps.tag_part(ctx, res.parts[0], dedup.decisions[0])
    assert tag.tagged
    steps.validate_parts(ctx, [tag.tagged])
    wh = Path(ctx.root)
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 0, "nothing is visible before the commit"
    summary = RunSummary(ctx.run_id, "running", ctx.landing, ctx.root, records_in=1, articles_loaded=1)
    done = ledger.publish_run(ctx, summary, res.files, [])
    assert done.status == "completed"
    assert q(wh, "SELECT status, records_in, articles_loaded FROM runs") == [("completed", 1, 1)]
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 1
    assert not ctx.stage.dir.exists()

    later = ledger.new_run(ctx.settings, NOW + timedelta(hours=1))
    ledger.begin_run(later)
    write_jsonl(landing / "second.jsonl", [record(2)])
    staged = parsed(later)
    assert Path(staged.parts[0]).exists()
    failed = ledger.fail_run(later, RunSummary(later.run_id, "running", later.landing, later.root), "boom")
    assert failed.status == "failed" and not later.stage.dir.exists()
    assert q(wh, "SELECT run_id, status FROM runs ORDER BY run_id") == [
        (ctx.run_id, "completed"),
        (later.run_id, "failed"),
    ]
    assert q(wh, "SELECT count(*) FROM articles")[0][0] == 1


def test_begin_run_marks_dead_runs_incomplete_and_removes_their_parts(ctx, landing):
    """begin_run: a run still `running` (its process died) becomes `incomplete` and its published parts go."""
    write_jsonl(landing / "feed.jsonl", [record(1)])
    parsed(ctx)  # staged, never published: the process "dies" here
    nxt = ledger.new_run(ctx.settings, NOW + timedelta(minutes=5))
    assert ledger.begin_run(nxt).dead == [ctx.run_id]
    assert not ctx.stage.dir.exists()
    assert dict(q(Path(ctx.root), "SELECT run_id, status FROM runs")) == {
        ctx.run_id: "incomplete",
        nxt.run_id: "running",
    }


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1)), st.text(min_size=1))
def test_run_ids_round_trip_through_published_names(started, part):
    """Any run id made by new_run_id is read back from any published part name built from it."""
    run_id = new_run_id(started.replace(tzinfo=UTC))
    assert is_run_id(run_id)
    name = published_name(run_id, Path(f"c00000-{abs(hash(part)) % 10_000:04d}.parquet"))
    assert run_of_published(name) == run_id
    assert run_of_published(part) is None or is_run_id(run_of_published(part) or "")


def test_stage_paths_are_one_folder_per_run(tmp_path):
    """Every staged name of a run lives under its own staging folder; table parts under the table's name."""
    stage = StagePaths(tmp_path, "20261121T120000000000Z-abcdef")
    part = stage.parsed(3, 7)
    assert part.name == "c00003-0007.parquet"
    for path in (part, stage.decisions(part), stage.tagged(part), stage.of_part("quarantine", part, "v-")):
        assert path.is_relative_to(stage.dir)
    assert stage.of_part("articles", part).parent == stage.table_dir("articles")
    assert stage.run_table("files").name == "files.parquet"


@pytest.mark.parametrize(
    ("status", "records", "quarantined", "code"),
    [
        ("completed", 10, 5, EXIT_OK),  # exactly at the limit
        ("completed", 10, 6, EXIT_BROKEN_INPUT),
        ("completed", 0, 0, EXIT_OK),
        ("failed", 10, 0, EXIT_FAILED),
    ],
)
def test_run_outcome_policy(status, records, quarantined, code):
    """One policy for every way of running: the exit code follows status and the quarantine share."""
    s = RunSummary("r", status, "l", "w", records_in=records, parse_quarantined=quarantined)
    s.quarantine_reasons = {"malformed_json": quarantined} if quarantined else {}
    assert exit_code(s, 0.5) == code
    message = broken_input(s, 0.5) if status == "completed" else None
    assert (message is not None) == (code == EXIT_BROKEN_INPUT)
    if message:
        assert "60% of 10 records" in message and "malformed_json 6" in message


def test_dedup_history_reads_the_index_in_batches_and_keeps_only_matches(landing, tmp_path):
    """dedup_history: the loaded rows sharing a hash or band with the run, the same whatever the batch size."""
    from newsetl.dedup import Keys, history_candidates
    from newsetl.pipeline import run_pipeline
    from newsetl.warehouse import connect

    write_jsonl(landing / "day1.jsonl", [record(i) for i in range(12)])
    settings = Settings.from_env(landing=landing, warehouse=tmp_path / "wh", workers=1)
    run_pipeline(settings, NOW)
    write_jsonl(landing / "day2.jsonl", [record(3) | {"title": "Again"}, record(7) | {"url": "https://x.example/7"}])
    ctx = ledger.new_run(settings, NOW + timedelta(days=1))
    ledger.begin_run(ctx)
    parts = parsed(ctx).parts
    run = Keys.of(pq.read_table(parts[-1], columns=["text_hash", "bands"]))
    con = connect(tmp_path / "wh", reports=False)
    index = con.execute("SELECT article_id, text_hash, bands FROM dedup_index").to_arrow_table()
    con.close()
    want = sorted(index.column("article_id").take(history_candidates(run, index)).to_pylist())
    assert len(want) == 2
    for rows in (1, 5, 65536):
        got = history.dedup_history(ctx, run, [], batch_rows=rows)
        assert sorted(got.column("article_id").to_pylist()) == want
        assert got.column_names == ["article_id", "text_hash", "published_at", "signature", "bands"]
