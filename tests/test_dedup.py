"""Dedup: MinHash estimates, exact and near duplicates, earliest kept, history, distinct stories kept."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED_A, SEED_B, need_shared
from newsetl import dedup
from newsetl.clean import text_fingerprint
from newsetl.dedup import (
    BANDS,
    DECISIONS,
    NUM_PERM,
    band_keys,
    find_duplicates,
    fingerprint_texts,
    minhash,
    minhash_many,
)

STORY = " ".join(
    f"Sentence {i} of the harbour story says the ferry company changed timetable number {i} for winter."
    for i in range(30)
)


def _table(texts, published=None, ids=None):
    sigs, bands = fingerprint_texts(texts)
    n = len(texts)
    return pa.table(
        {
            "record_id": ids or [f"r{i}" for i in range(n)],
            "text_hash": [text_fingerprint(t) for t in texts],
            "published_at": pa.array(published or [None] * n, pa.timestamp("us", tz="UTC")),
            "ingest_order": list(range(n)),
            "signature": pa.array(sigs, pa.list_(pa.uint32())),
            "bands": pa.array(bands, pa.list_(pa.int64())),
        }
    )


def _history(table: pa.Table) -> pa.Table:
    return table.rename_columns(["article_id" if c == "record_id" else c for c in table.column_names]).drop_columns(
        ["ingest_order"]
    )


def _empty_history():
    return _history(_table([]))


def test_minhash_estimates_jaccard():
    """Identical texts share every slot; unrelated texts almost none."""
    a, b = minhash(STORY), minhash("A completely different text about mountains, snow and a ski lift opening.")
    assert a.shape == (NUM_PERM,) and (a == minhash(STORY)).all()
    assert (a == b).mean() < 0.1
    assert band_keys(a).shape == (BANDS,)


def test_exact_and_near_duplicates_in_a_run():
    """A copy is exact, a copy with a sentence changed is near, a different story is kept."""
    near = STORY.replace("timetable number 7 for winter", "the timetable for the spring season")
    t = _table([STORY, STORY.upper(), near, "Another story entirely, about a library that opened in the old town."])
    d = find_duplicates(t, _empty_history()).to_pylist()
    assert [r["status"] for r in d] == ["kept", "exact", "near", "kept"]
    assert d[1]["duplicate_of"] == "r0" and d[1]["similarity"] == 1.0
    assert d[2]["duplicate_of"] == "r0" and 0.7 <= d[2]["similarity"] < 1.0


def test_earliest_published_copy_is_kept():
    """The earliest dated copy wins even when ingested later; undated copies lose to dated ones."""
    t = _table(
        [STORY, STORY, STORY], published=[datetime(2025, 5, 2, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC), None]
    )
    d = find_duplicates(t, _empty_history()).to_pylist()
    assert [r["status"] for r in d] == ["exact", "kept", "exact"]
    assert d[0]["duplicate_of"] == "r1" and d[2]["duplicate_of"] == "r1"


def test_ties_keep_first_ingested():
    """Same date (or none): the first ingested copy is kept."""
    d = find_duplicates(_table([STORY, STORY]), _empty_history()).to_pylist()
    assert [r["status"] for r in d] == ["kept", "exact"]


def test_history_is_never_displaced():
    """A copy of an article loaded on an earlier day is the duplicate, even if dated earlier."""
    hist = _history(_table([STORY], published=[datetime(2025, 6, 1, tzinfo=UTC)], ids=["old"]))
    near = STORY.replace("timetable number 3 for winter", "a new timetable")
    run = _table([STORY, near], published=[datetime(2025, 1, 1, tzinfo=UTC)] * 2)
    d = find_duplicates(run, hist).to_pylist()
    assert [(r["status"], r["duplicate_of"]) for r in d] == [("exact", "old"), ("near", "old")]


def test_empty_run():
    """No records, no decisions."""
    assert find_duplicates(_table([]), _empty_history()).schema == DECISIONS


def test_two_outlets_on_the_same_event_are_not_duplicates():
    """The two seeds (one story, two outlets) stay two articles."""
    a = need_shared(SEED_A).read_text()
    b = need_shared(SEED_B).read_text()
    d = find_duplicates(_table([a, b]), _empty_history()).to_pylist()
    assert [r["status"] for r in d] == ["kept", "kept"]
    assert (minhash(a) == minhash(b)).mean() < 0.2


def test_signature_is_stable_across_processes():
    """Signatures are persisted: they must not depend on Python's per-process hash seed."""
    import subprocess
    import sys

    code = "from newsetl.dedup import minhash; print(minhash('one two three four five six seven')[:5].tolist())"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1
    assert np.asarray(eval(outs.pop())).tolist() == minhash("one two three four five six seven")[:5].tolist()


@settings(max_examples=60, deadline=None)
@given(
    history=st.lists(st.tuples(st.integers(0, 5), st.lists(st.integers(0, 6), min_size=20, max_size=20)), max_size=30),
    run=st.lists(st.tuples(st.integers(0, 5), st.lists(st.integers(0, 6), min_size=20, max_size=20)), max_size=10),
)
def test_history_candidates_are_exactly_the_rows_sharing_a_hash_or_a_band(history, run):
    """A history row is a candidate iff it shares the text hash or the key of the same band with a run record."""
    from newsetl.dedup import Keys, history_candidates

    def table(rows):
        return pa.table(
            {
                "text_hash": pa.array([f"h{h}" for h, _ in rows], pa.string()),
                "bands": pa.array([b for _, b in rows], pa.list_(pa.int64())),
            }
        )

    want = [
        i
        for i, (h, bands) in enumerate(history)
        if any(h == rh or any(x == y for x, y in zip(bands, rb, strict=True)) for rh, rb in run)
    ]
    assert history_candidates(Keys.of(table(run)), table(history)).tolist() == want


def _reference_decisions(run: pa.Table, history: pa.Table, threshold: float) -> list[tuple]:
    """The record-at-a-time algorithm find_duplicates replaced (Python lists, a dict of every hash):
    kept as the oracle its vectorised form must agree with."""
    n, h = run.num_rows, history.num_rows
    ids, hashes = run.column("record_id").to_pylist(), run.column("text_hash").to_pylist()
    published, ingest = run.column("published_at").to_pylist(), run.column("ingest_order").to_pylist()
    h_ids, h_pub, h_hashes = (history.column(c).to_pylist() for c in ("article_id", "published_at", "text_hash"))
    sigs = np.array(history.column("signature").to_pylist() + run.column("signature").to_pylist(), dtype=np.uint32)
    bands = history.column("bands").to_pylist() + run.column("bands").to_pylist()

    def key(pub, order):
        return (pub is None, pub or datetime.min.replace(tzinfo=UTC), order)

    order = sorted(range(n), key=lambda i: key(published[i], ingest[i]))
    status, dup_of, sim = ["kept"] * n, [None] * n, [None] * n
    by_hash: dict = {}
    for j in sorted(range(h), key=lambda j: key(h_pub[j], 0)):
        by_hash.setdefault(h_hashes[j], h_ids[j])
    for i in order:
        if hashes[i] in by_hash:
            status[i], dup_of[i], sim[i] = "exact", by_hash[hashes[i]], 1.0
        else:
            by_hash[hashes[i]] = ids[i]
    candidates = list(range(h)) + [h + i for i in range(n) if status[i] == "kept"]
    groups: dict = {}
    for s in candidates:
        for b, k in enumerate(bands[s]):
            groups.setdefault((b, k), set()).add(s)
    neighbours: dict = {}
    for g in groups.values():
        for s in g:
            neighbours.setdefault(s, set()).update(g - {s})
    kept = [True] * h + [False] * n
    for i in order:
        if status[i] != "kept":
            continue
        near = [c for c in sorted(neighbours.get(h + i, ())) if kept[c]]
        if near:
            sims = (sigs[near] == sigs[h + i]).mean(axis=1)
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                c = near[best]
                status[i], dup_of[i], sim[i] = "near", (h_ids[c] if c < h else ids[c - h]), float(sims[best])
                continue
        kept[h + i] = True
    at = {r: i for i, r in enumerate(ids)}
    for i in range(n):  # an exact copy of a record found to be a near copy: a near copy of what it copies
        j = at.get(dup_of[i])
        if status[i] == "exact" and j is not None and status[j] == "near":
            status[i], dup_of[i], sim[i] = "near", dup_of[j], sim[j]
    return list(zip(ids, status, dup_of, sim, strict=True))


_record = st.tuples(
    st.integers(0, 6),  # text hash
    st.lists(st.integers(0, 4), min_size=BANDS, max_size=BANDS),  # band keys, few values: many shared
    st.integers(0, 3),  # which base signature...
    st.sets(st.integers(0, NUM_PERM - 1), max_size=45),  # ...with these slots changed
    st.one_of(st.none(), st.integers(0, 4)),  # day published
    st.integers(0, 5),  # ingest order (ties happen)
)


def _records(rows: list[tuple], prefix: str, run: bool) -> pa.Table:
    base = np.random.RandomState(3).randint(0, 2**32, size=(4, NUM_PERM), dtype=np.uint64)
    sigs = []
    for _, _, b, changed, _, _ in rows:
        s = base[b].copy()
        s[sorted(changed)] = 7  # the same changed value in two records agrees: similarity varies both ways
        sigs.append(s.astype(np.uint32).tolist())
    table = pa.table(
        {
            "record_id" if run else "article_id": [f"{prefix}{i}" for i in range(len(rows))],
            "text_hash": [f"h{r[0]}" for r in rows],
            "published_at": pa.array(
                [None if r[4] is None else datetime(2026, 3, 1 + r[4], tzinfo=UTC) for r in rows],
                pa.timestamp("us", tz="UTC"),
            ),
            # One key space per band, as band_keys gives (each band has its own mix).
            "bands": pa.array([[b * 100 + k for b, k in enumerate(r[1])] for r in rows], pa.list_(pa.int64())),
            "signature": pa.array(sigs, pa.list_(pa.uint32())),
        }
    )
    return table.append_column("ingest_order", pa.array([r[5] for r in rows], pa.int64())) if run else table


@settings(max_examples=150, deadline=None)
@given(
    run=st.lists(_record, max_size=25),
    history=st.lists(_record, max_size=12),
    threshold=st.sampled_from([0.6, 0.7, 0.9]),
)
def test_find_duplicates_decides_as_the_record_at_a_time_algorithm(run, history, threshold):
    """Any run and history (shared hashes, shared band keys, date and ingest ties, undated records): the
    vectorised decisions are the reference algorithm's, also when signatures are fetched on demand."""
    r, hist = _records(run, "r", True), _records(history, "h", False)
    want = _reference_decisions(r, hist, threshold)
    got = find_duplicates(r, hist, threshold)
    assert [tuple(d.values()) for d in got.to_pylist()] == want
    # Every copy names a kept run record or a history article, never another copy.
    kept = {d["record_id"] for d in got.to_pylist() if d["status"] == "kept"} | set(
        hist.column("article_id").to_pylist()
    )
    assert all(d["duplicate_of"] in kept for d in got.to_pylist() if d["status"] != "kept")
    asked: list = []

    def fetch(rows):
        asked.append(rows.tolist())
        return np.array(r.column("signature").to_pylist(), dtype=np.uint32).reshape(-1, NUM_PERM)[rows]

    lazy = find_duplicates(r.drop_columns(["signature"]), hist, threshold, signatures=fetch)
    assert lazy.equals(got)
    assert sum(len(a) for a in asked) <= len(run)


@settings(max_examples=40, deadline=None)
@given(
    bodies=st.lists(
        st.lists(
            st.sampled_from(["Ferry", "timetable", "winter", "harbour", "über", "港口", "12", "the", "  ", "\n"]),
            max_size=60,
        ).map(" ".join),
        max_size=6,
    )
)
def test_signatures_made_from_cleanings_tokens_are_the_texts_own(bodies):
    """The parse step fingerprints each cleaned text from the tokens cleaning made: the signature and band
    columns are those of the cleaned texts themselves (and a rejected record has none)."""
    from newsetl.clean import clean_articles
    from newsetl.dedup import fingerprint_columns
    from newsetl.schema import RAW, conform

    rows = [
        {
            "title": f"Title {i}",
            "text": body,
            "source_file": "f.jsonl",
            "file_sha256": "0" * 64,
            "record_no": i,
            "format": "jsonl",
            "record_id": f"r{i}",
        }
        for i, body in enumerate(bodies)
    ]
    raw = conform(pa.Table.from_pylist(rows), RAW) if rows else RAW.empty_table()
    raw = raw.append_column("ingest_order", pa.array(range(len(rows)), pa.int64()))
    cleaned, rejected, token_lists = clean_articles(raw, keep_tokens=True)
    assert cleaned.num_rows + rejected.num_rows == len(rows) and len(token_lists) == cleaned.num_rows
    cols = fingerprint_columns(minhash_many(token_lists))
    texts = cleaned.column("text").to_pylist()
    sigs, bands = fingerprint_texts(texts)
    assert cols["signature"].to_pylist() == sigs and cols["bands"].to_pylist() == bands
    # ...and they are each text's own signature and band keys, made one text at a time.
    assert sigs == [minhash(t).tolist() for t in texts]
    assert bands == [band_keys(minhash(t)).tolist() for t in texts]
    assert cols["signature"].type == pa.list_(pa.uint32()) and cols["bands"].type == pa.list_(pa.int64())


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.one_of(st.integers(0, 7), st.integers(8, 600), st.just(5000)), max_size=12),
    block=st.sampled_from([7, 64, 4096]),
    group=st.sampled_from([1, 300, 1 << 20]),
    seed=st.integers(0, 2**16),
)
def test_minhash_many_is_minhash_of_each_text(lengths, block, group, seed):
    """Texts of none, one to four, five and thousands of tokens (a text across blocks, a block across texts):
    each row is the text's own minhash."""
    rng = np.random.default_rng(seed)
    vocab = ["ferry", "winter", "über", "港", "12", "the", "a", "timetable"]
    lists = [[vocab[i] for i in rng.integers(0, len(vocab), n)] for n in lengths]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dedup, "GROUP_TOKENS", group)  # texts taken in groups of this many tokens
        got = minhash_many(lists, block=block)
    want = np.stack([minhash("", t) for t in lists]) if lists else np.zeros((0, NUM_PERM), np.uint32)
    assert got.dtype == np.uint32 and got.shape == (len(lists), NUM_PERM)
    assert (got == want).all()
