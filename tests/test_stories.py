"""Stories: the stage on small tables (join, new story, merge, window), stability over runs, syndication."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import q
from newsetl import stories
from newsetl.stories import assign_stories, new_story_id, terms_columns, wire_credit

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")

# Made-up events: each has its own names, places and numbers; articles about one event share them.
EVENTS = {
    "flood": "Varnholt river flood dyke Ostermoor evacuated 3400 residents pumps sandbags governor Kellin rainfall",
    "strike": "Brelsk dockworkers strike port cranes union Tamsin Okafor wages 12 percent container backlog ships",
    "vote": "Quillon parliament vote pension reform Mireva coalition 211 deputies retirement age 64 protest",
    "quake": "Sorrento Valley earthquake magnitude 6.1 Lindqvist seismologists aftershocks collapsed bridges Tarvo",
    "merger": "Halvorsen Steel merger Corvane Metals 4.2 billion regulators antitrust shareholders Eskil plant",
    "vaccine": "Peltonia health ministry malaria vaccine trial 18000 children Dr Annika Ruud efficacy 71 percent",
}
FILLER = (
    "the officials said on tuesday that further details would follow later this week while local media "
    "reported mixed reactions and observers expected more statements from authorities in coming days"
).split()


def article(rng: random.Random, event: str, words: int = 120) -> tuple[str, str]:
    """A made-up article about `event`: its words mixed with filler, in a random order (title, text)."""
    key = EVENTS[event].split()
    title = " ".join(rng.sample(key, 6)).capitalize()
    body = [rng.choice(key) if rng.random() < 0.45 else rng.choice(FILLER) for _ in range(words)]
    text = ". ".join(" ".join(body[i : i + 12]).capitalize() for i in range(0, words, 12)) + "."
    return title, text


def table(rows: list[dict], with_story: bool = False) -> pa.Table:
    cols = terms_columns([r["title"] for r in rows], [r["text"] for r in rows], ["en"] * len(rows))
    data: dict = {
        "article_id": pa.array([r["id"] for r in rows], pa.string()),
        "event_time": pa.array([r["time"] for r in rows], TS),
        **cols,
    }
    if with_story:
        data["story_id"] = pa.array([r["story"] for r in rows], pa.string())
    return pa.table(data)


EMPTY = pa.table(
    {
        "article_id": pa.array([], pa.string()),
        "event_time": pa.array([], TS),
        "terms": pa.array([], stories.TERMS),
        "counts": pa.array([], stories.COUNTS),
        "story_id": pa.array([], pa.string()),
    }
)
WINDOW = timedelta(days=14)


def make(rng: random.Random, event: str, i: int, days: float = 0, story: str | None = None) -> dict:
    title, text = article(rng, event)
    return {"id": f"{event}-{i}", "title": title, "text": text, "time": T0 + timedelta(days=days), "story": story}


def test_articles_of_one_event_join_and_others_start_their_own():
    rng = random.Random(1)
    rows = [make(rng, e, i, days=i * 0.1) for e in ("flood", "strike", "vote") for i in range(4)]
    done = assign_stories(table(rows), EMPTY, 0.3, WINDOW)
    by_event: dict[str, set[str]] = {}
    for r, s in zip(rows, done.story_ids, strict=True):
        by_event.setdefault(r["id"].split("-")[0], set()).add(s)
    assert all(len(v) == 1 for v in by_event.values()), by_event
    assert len(set(done.story_ids)) == 3
    # A story's id comes from the article that started it, so any machine assigns the same ids.
    assert done.story_ids[0] == new_story_id("flood-0")
    assert done.new_stories == {new_story_id(f"{e}-0") for e in ("flood", "strike", "vote")}


def test_a_new_article_joins_a_published_story_within_the_window_only():
    rng = random.Random(2)
    old = make(rng, "quake", 0, story="s-quake")
    index = table([old], with_story=True)
    joined = assign_stories(table([make(rng, "quake", 1, days=10)]), index, 0.3, WINDOW)
    assert joined.story_ids == ["s-quake"] and joined.linked_to == ["quake-0"]
    expired = assign_stories(table([make(rng, "quake", 2, days=20)]), index, 0.3, WINDOW)
    assert expired.story_ids == [new_story_id("quake-2")] and expired.linked_to == [None]
    other = assign_stories(table([make(rng, "merger", 3, days=1)]), index, 0.3, WINDOW)
    assert other.story_ids == [new_story_id("merger-3")]


def test_an_article_linking_two_published_stories_records_a_merge_into_the_older():
    rng = random.Random(3)
    a = make(rng, "vaccine", 0, days=0, story="s-older")
    b = make(rng, "vaccine", 1, days=2, story="s-younger")
    index = table([a, b], with_story=True)  # one event split in two stories (e.g. a cautious threshold earlier)
    done = assign_stories(table([make(rng, "vaccine", 2, days=3)]), index, 0.3, WINDOW)
    assert done.merges and done.merges[0]["story_id"] == "s-younger" and done.merges[0]["merged_into"] == "s-older"
    assert done.story_ids == ["s-older"]
    # Merges already recorded resolve: a story merged earlier is never a target again.
    again = assign_stories(table([make(rng, "vaccine", 3, days=4)]), index, 0.3, WINDOW, {"s-younger": "s-older"})
    assert again.story_ids == ["s-older"] and again.merges == []


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), shuffle=st.randoms(use_true_random=False))
def test_assignment_does_not_depend_on_the_order_rows_arrive_in(seed, shuffle):
    rng = random.Random(seed)
    rows = [make(rng, rng.choice(list(EVENTS)), i, days=rng.random() * 5) for i in range(12)]
    first = dict(zip([r["id"] for r in rows], assign_stories(table(rows), EMPTY, 0.3, WINDOW).story_ids, strict=True))
    shuffle.shuffle(rows)
    second = dict(zip([r["id"] for r in rows], assign_stories(table(rows), EMPTY, 0.3, WINDOW).story_ids, strict=True))
    assert first == second


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(0, 3 * 365 * 24)), min_size=1, max_size=40),
    st.floats(0.5, 30),
)
def test_story_window_spans_cover_every_article_and_nothing_far_from_all(hours, days):
    """The run's window is the union of [t - w, t + w] over its event times, merged into disjoint spans:
    every article's own window lies inside one span, and no span reaches past a day beyond any article's."""
    from newsetl.steps.stories import _spans

    times = [None if h is None else T0 + timedelta(hours=h) for h in hours]
    window = timedelta(days=days)
    spans = _spans(pa.chunked_array([pa.array(times, TS)]), window)
    dated = [t for t in times if t is not None]
    assert len(spans) <= len(dated)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False)), "sorted and disjoint"
    for t in dated:
        assert any(lo <= t - window and t + window <= hi for lo, hi in spans), t
    slack = window + timedelta(days=1)
    for lo, hi in spans:  # the articles' widened windows chain from lo to hi without a gap
        reach = lo
        for t in sorted(t for t in dated if lo <= t <= hi):
            assert t - slack <= reach, (lo, hi, t)
            reach = max(reach, t + slack)
        assert reach >= hi, (lo, hi, reach)


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("WASHINGTON (AP) — The Senate passed the bill on Tuesday.", "AP"),
        ("LONDON (Reuters) - Shares rose in early trade.", "Reuters"),
        ("PARIS, 3 mars (AFP) - Le gouvernement a annoncé...", "AFP"),
        ("Berlin (dpa) - Die Regierung hat beschlossen...", "dpa"),
        ("Madrid, 2 dic (EFE).- El Gobierno aprobó...", "EFE"),
        ("The minister spoke on Monday.\n\nSource: Reuters", "Reuters"),
        ("Die Bahn fährt mehr Züge.\n\nQuelle: dpa", "dpa"),
        ("Le conseil a voté le budget. (AFP)", "AFP"),
        ("Ankara'da toplantı yapıldı.\n\nKaynak: AA", "Anadolu"),
        ("The council met on Monday.\n\nSource: City Hall press office", "City Hall press office"),
        ("Reuters reported on Monday that the talks had stalled, citing three people.", None),
        ("A long story about AP courses at schools and the AFP of a region " * 10, None),
        ("", None),
    ],
)
def test_wire_credit_reads_datelines_and_source_lines_only(text, wire):
    assert wire_credit(text) == wire


# ---------------------------------------------------------------- through the pipeline


def _write(landing: Path, name: str, records: list[dict]) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    (landing / name).write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")


def _rec(rng: random.Random, event: str, outlet: str, when: datetime | None, text: str | None = None) -> dict:
    title, body = article(rng, event, words=160)
    rec = {"title": title, "text": text or body, "source": outlet, "url": f"https://{outlet}.example/{rng.random()}"}
    if when:
        rec["published_at"] = when.isoformat()
    return rec


def test_story_ids_stay_put_over_several_daily_runs(tmp_path, run):
    rng = random.Random(7)
    landing, wh = tmp_path / "landing", tmp_path / "warehouse"
    day = [T0 + timedelta(days=d) for d in range(4)]
    _write(landing, "d0.jsonl", [_rec(rng, "flood", "north-herald", day[0]), _rec(rng, "strike", "port-times", day[0])])
    s0 = run(landing, wh, now=day[0] + timedelta(hours=6))
    assert s0.stories["new"] == 2 and s0.stories["grew"] == 0
    before = dict(q(wh, "SELECT article_id, story_id FROM articles"))
    _write(landing, "d1.jsonl", [_rec(rng, "flood", "valley-news", day[1]), _rec(rng, "vote", "capital-post", None)])
    s1 = run(landing, wh, now=day[1] + timedelta(hours=6))
    assert s1.stories["new"] == 1 and s1.stories["grew"] == 1
    _write(
        landing, "d2.jsonl", [_rec(rng, "flood", "coast-daily", day[2]), _rec(rng, "strike", "north-herald", day[2])]
    )
    run(landing, wh, now=day[2] + timedelta(hours=6))
    after = dict(q(wh, "SELECT article_id, story_id FROM articles"))
    assert {k: after[k] for k in before} == before  # published story ids never change
    flood = q(
        wh,
        "SELECT articles, outlets, independent_outlets, first_outlet FROM stories WHERE headline IS NOT NULL "
        "AND story_id = (SELECT story_id FROM articles WHERE outlet_name = 'valley-news')",
    )
    assert flood == [(3, 3, 3, "north-herald")]
    assert q(wh, "SELECT count(*) FROM stories")[0][0] == 3
    # The undated article's story starts at its run's start (its ingest time).
    started = q(wh, "SELECT started_at FROM runs WHERE run_id = ?", s1.run_id)[0][0]
    assert q(wh, "SELECT first_published FROM stories WHERE 'capital-post' IN (first_outlet)")[0][0] == started


def test_wire_copies_are_attributed_to_the_wire_and_plain_copies_to_the_earliest_outlet(tmp_path, run):
    rng = random.Random(11)
    landing, wh = tmp_path / "landing", tmp_path / "warehouse"
    _, body = article(rng, "merger", words=200)
    wire_text = "OSLO (AP) — " + body
    _, other = article(rng, "quake", words=200)
    _write(
        landing,
        "day.jsonl",
        [
            _rec(rng, "merger", "fjord-post", T0, wire_text),
            _rec(rng, "merger", "bay-courier", T0 + timedelta(hours=2), wire_text),
            _rec(rng, "quake", "valley-news", T0, other),
            _rec(rng, "quake", "coast-daily", T0 + timedelta(hours=3), other),
            _rec(rng, "quake", "coast-daily", T0 + timedelta(hours=4), other),  # the same outlet again
        ],
    )
    run(landing, wh, now=T0 + timedelta(days=1))
    rows = q(
        wh, "SELECT outlet_name, is_copy, wire, origin, syndicated FROM story_articles ORDER BY event_time, outlet_name"
    )
    assert ("fjord-post", False, "AP", "AP", True) in rows
    assert ("bay-courier", True, "AP", "AP", True) in rows
    assert ("valley-news", False, None, "valley-news", False) in rows
    assert ("coast-daily", True, None, "valley-news", True) in rows
    stats = q(wh, "SELECT outlets, independent_outlets, syndicated, copies FROM stories ORDER BY headline")
    assert sorted(stats) == [(2, 1, 2, 1), (2, 1, 2, 2)]


@settings(max_examples=40, deadline=None)
@given(
    run=st.lists(
        st.tuples(
            st.sampled_from(sorted(EVENTS)),
            st.integers(0, 40),  # day: several windows of 14 days
            st.booleans(),  # dated
        ),
        min_size=1,
        max_size=18,
    ),
    history=st.lists(st.tuples(st.sampled_from(sorted(EVENTS)), st.integers(-20, 30), st.integers(0, 3)), max_size=8),
    merged=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_assignment_does_not_depend_on_the_block_size(run, history, merged, seed):
    """Any run over several windows (dated and undated articles, history before, inside and after them,
    merged published stories) gets the same stories, links, similarities and merges whether its
    articles are compared all at once or a few at a time: the blocks that keep a very large run's
    memory bounded change nothing."""
    rng = random.Random(seed)
    rows = [make(rng, e, i, days=d) | {"dated": dated} for i, (e, d, dated) in enumerate(run)]
    start = T0 + timedelta(days=20)
    runs = table(rows)
    runs = runs.append_column("dated", pa.array([r["dated"] for r in rows]))
    runs = runs.set_column(1, "event_time", pa.array([r["time"] if r["dated"] else start for r in rows], TS))
    runs = runs.append_column("ingested_at", pa.array([start] * len(rows), TS))
    past = [make(rng, e, 100 + i, days=d, story=f"s-old{k}") for i, (e, d, k) in enumerate(history)]
    index = table(past, with_story=True) if past else EMPTY
    if past:
        index = index.append_column("ingested_at", pa.array([r["time"] for r in past], TS))
    roots = {"s-old3": "s-old0"} if merged else {}
    whole = assign_stories(runs, index, 0.3, WINDOW, roots)
    for size in (1, 2, 5):
        part = assign_stories(runs, index, 0.3, WINDOW, roots, block_rows=size)
        assert part.story_ids == whole.story_ids
        assert part.linked_to == whole.linked_to
        assert part.similarity == whole.similarity
        assert part.merges == whole.merges


def test_a_large_run_read_in_blocks_writes_what_one_block_writes(tmp_path, run, monkeypatch):
    """A backfill over several windows (undated articles, copies, history from an earlier run) gets the
    same story index, merges and summary when the step reads it four articles at a time."""
    from newsetl.steps import stories as step

    rng = random.Random(5)
    landing = tmp_path / "landing"
    first = [_rec(rng, e, f"outlet-{i % 4}", T0 + timedelta(days=i % 9)) for i, e in enumerate(sorted(EVENTS) * 2)]
    _write(landing, "history.jsonl", first)
    later = [
        _rec(rng, rng.choice(sorted(EVENTS)), f"outlet-{i % 5}", None if i % 7 == 0 else T0 + timedelta(days=i % 40))
        for i in range(45)
    ]
    later += [dict(r, url=r["url"] + "?copy", source="copier") for r in later[:4]]  # exact copies
    got = []
    for size in (None, 4):
        wh = tmp_path / f"warehouse-{size}"
        run(landing, wh, now=T0 + timedelta(days=10))
        _write(landing, "backfill.jsonl", later)
        monkeypatch.setattr(step, "BLOCK_ROWS", size or step.BLOCK_ROWS)
        summary = run(landing, wh, now=T0 + timedelta(days=41))
        (landing / "backfill.jsonl").unlink()
        rows = q(wh, "SELECT article_id, story_id, linked_to, similarity FROM story_index ORDER BY article_id")
        merges = q(wh, "SELECT story_id, merged_into, article_id FROM story_merges ORDER BY ALL")
        got.append((rows, merges, summary.stories))
    assert got[0] == got[1]
    assert len(got[0][0]) == len(first) + 45 and got[0][2]["grew"] > 0 and got[0][2]["largest"]


@settings(max_examples=30, deadline=None)
@given(groups=st.lists(st.integers(1, 5), min_size=1, max_size=6), data=st.data())
def test_ranked_rows_are_read_by_any_rank_range(tmp_path_factory, groups, data):
    """The step reads its rank-ordered file by rank ranges that cross row groups anywhere."""
    import pyarrow.parquet as pq

    from newsetl.steps.stories import _Ranked

    path = tmp_path_factory.mktemp("ranked") / "ranked.parquet"
    n = sum(groups)
    with pq.ParquetWriter(path, pa.schema([("rank", pa.int64())])) as out:
        start = 0
        for g in groups:
            out.write_table(pa.table({"rank": list(range(start, start + g))}))
            start += g
    lo = data.draw(st.integers(0, n - 1))
    hi = data.draw(st.integers(lo + 1, n))
    assert _Ranked(path).read(lo, hi).column("rank").to_pylist() == list(range(lo, hi))


def _largest_reference(run: list[dict], hist: list[dict], roots: dict, dups: list[dict]) -> list[dict]:
    """The run summary's largest stories, counted in plain Python: what the step's SQL must return."""
    run_ids, run_stories = {r["article_id"] for r in run}, {r["story_id"] for r in run}
    old = [dict(h, story_id=roots.get(h["story_id"], h["story_id"])) for h in hist]
    arts = run + [h for h in old if h["story_id"] in run_stories and h["article_id"] not in run_ids]
    story_of = {a["article_id"]: a["story_id"] for a in arts}
    counted = [(a["story_id"], a["outlet_id"], a["title"], a["event_time"]) for a in arts]
    counted += [
        (story_of[d["duplicate_of"]], d["outlet_id"], None, None) for d in dups if d["duplicate_of"] in story_of
    ]
    out = []
    for story in {c[0] for c in counted}:
        mine = [c for c in counted if c[0] == story]
        titled = sorted((t, title) for _, _, title, t in mine if title)
        outlets = len({"\0" if o is None else o for _, o, _, _ in mine})
        out.append(
            {"story_id": story, "headline": titled[0][1] if titled else "", "outlets": outlets, "articles": len(mine)}
        )
    return sorted(out, key=lambda s: (-s["outlets"], -s["articles"], s["story_id"]))[:5]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_largest_stories_of_a_run_are_counted_as_the_reference_counts_them(tmp_path_factory, data):
    """Run articles, window history (merged stories read as their roots; run versions win) and copies:
    outlets (none counts as one), articles and the earliest non-empty title of the five largest stories."""
    import pyarrow.parquet as pq

    from newsetl.steps.stories import _largest

    stories_ = [f"s{i}" for i in range(7)]
    outlets = st.sampled_from(["o1", "o2", "o3", "o4", None])
    titles = st.sampled_from(["", None, "Alpha", "Beta", "Gamma"])
    times = st.integers(0, 5).map(lambda h: T0 + timedelta(hours=h))
    article = st.fixed_dictionaries(
        {"story_id": st.sampled_from(stories_), "outlet_id": outlets, "title": titles, "event_time": times}
    )

    def articles(ids: list[int]) -> list[dict]:
        return [{"article_id": f"a{i}", **data.draw(article)} for i in ids]

    run = articles(data.draw(st.lists(st.integers(0, 40), min_size=1, max_size=25, unique=True)))
    hist = articles(data.draw(st.lists(st.integers(0, 60), max_size=25, unique=True)))
    roots = data.draw(st.dictionaries(st.sampled_from(stories_[4:]), st.sampled_from(stories_[:4]), max_size=3))
    known = [a["article_id"] for a in run + hist] + ["a99"]
    dups = [
        {"duplicate_of": data.draw(st.sampled_from(known)), "outlet_id": data.draw(outlets)}
        for _ in range(data.draw(st.integers(0, 12)))
    ]
    work = tmp_path_factory.mktemp("largest")
    cols = pa.schema(
        [
            ("article_id", pa.string()),
            ("story_id", pa.string()),
            ("outlet_id", pa.string()),
            ("title", pa.string()),
            ("event_time", TS),
        ]
    )
    pq.write_table(pa.Table.from_pylist(run, cols), work / "part.parquet")
    paths = []
    if dups:
        pq.write_table(
            pa.Table.from_pylist(dups, pa.schema([("duplicate_of", pa.string()), ("outlet_id", pa.string())])),
            work / "d.parquet",
        )
        paths = [str(work / "d.parquet")]
    got = _largest(work / "part.parquet", pa.Table.from_pylist(hist, cols), roots, paths, work)
    assert got == _largest_reference(run, hist, roots, dups)
