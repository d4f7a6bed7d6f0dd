"""Every row of `duplicates` points at a row of `articles`, whatever runs, copies, corrections and invalid rows do."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from conftest import NOW, accounting, q, random_text
from newsetl.config import Settings
from newsetl.copies import QUARANTINED, SUPERSEDED, Lost, fix_copies
from newsetl.pipeline import run_pipeline

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _copy(i: str, lost: str, minutes: int | None, order: int = 0) -> dict:
    return {
        "article_id": i,
        "duplicate_of": lost,
        "published_at": None if minutes is None else T0 + timedelta(minutes=minutes),
        "ingest_order": order,
    }


def test_fix_copies_prefers_a_surviving_same_text_article():
    """A correction that keeps the text: its copies point at the new article; nothing is promoted."""
    fixes = fix_copies(
        [Lost("old", "h1", SUPERSEDED)],
        [_copy("c1", "old", 5), _copy("c2", "old", 1)],
        [{"article_id": "new", "text_hash": "h1", "published_at": None}],
        valid={"c1", "c2"},
    )
    assert fixes.promoted == []
    assert sorted((r["article_id"], r["action"], r["target"]) for r in fixes.rows) == [
        ("c1", "repointed", "new"),
        ("c2", "repointed", "new"),
    ]


def test_fix_copies_promotes_the_earliest_valid_copy():
    """No heir: the earliest published valid copy is promoted, the others point at it; invalid ones are skipped."""
    copies = [
        _copy("late", "k", 30),
        _copy("early-invalid", "k", 1),
        _copy("early", "k", 2),
        _copy("undated", "k", None),
    ]
    fixes = fix_copies([Lost("k", None, QUARANTINED)], copies, [], valid={"late", "early", "undated"})
    assert fixes.promoted == ["early"]
    actions = {r["article_id"]: (r["action"], r.get("target")) for r in fixes.rows}
    assert actions == {
        "early": ("promoted", None),
        "early-invalid": ("repointed", "early"),
        "late": ("repointed", "early"),
        "undated": ("repointed", "early"),
    }
    assert fixes.counts() == {"promoted": 1, "repointed": 3}


def test_fix_copies_demotes_when_no_copy_is_valid():
    """Every copy invalid: all are demoted with the reason and what failed."""
    fixes = fix_copies(
        [Lost("k", None, QUARANTINED)],
        [_copy("a", "k", 1), _copy("b", "k", 2)],
        [],
        valid=set(),
        invalid_detail={"a": "bad url"},
    )
    assert [(r["article_id"], r["action"], r["reason"]) for r in fixes.rows] == [
        ("a", "demoted", QUARANTINED),
        ("b", "demoted", QUARANTINED),
    ]
    assert "bad url" in fixes.rows[0]["detail"] and fixes.promoted == []


class Warehouse(RuleBasedStateMachine):
    """Runs over a landing folder that gains stories, copies, invalid earliest copies and corrections."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="newsetl-copies-"))
        self.landing = self.tmp / "landing"
        self.landing.mkdir()
        self.wh = self.tmp / "wh"
        self.rng = random.Random(0)
        self.files: dict[str, list[dict]] = {}
        self.minute = 0
        self.day = 0
        self.n = 0

    @initialize(seed=st.integers(0, 10_000))
    def seed(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _record(self, text: str, **kw: object) -> dict:
        self.minute += 7
        self.n += 1
        published = (T0 + timedelta(minutes=self.minute)).isoformat()
        return {"title": f"Story {self.n}", "text": text, "source": "Harbour Times", "published_at": published} | kw

    def _write(self, name: str, records: list[dict]) -> None:
        self.files[name] = records
        (self.landing / name).write_text("\n".join(json.dumps(r) for r in records))

    def _texts(self) -> list[str]:
        return [r["text"] for recs in self.files.values() for r in recs]

    @rule(n=st.integers(1, 3))
    def new_stories(self, n: int) -> None:
        self._write(f"f{len(self.files)}.jsonl", [self._record(random_text(self.rng, sentences=5)) for _ in range(n)])

    @precondition(lambda self: self.files)
    @rule(near=st.booleans(), data=st.data())
    def copy_a_story(self, near: bool, data) -> None:
        text = data.draw(st.sampled_from(self._texts()))
        if near:  # one word changed: a near copy
            words = text.split()
            words[len(words) // 2] = "harbourmaster"
            text = " ".join(words)
        self._write(f"f{len(self.files)}.jsonl", [self._record(text)])

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def invalid_original_with_a_copy(self, data) -> None:
        """An earliest copy dated 1985 (kept, then quarantined by validation) and a valid later copy, same run."""
        text = (
            random_text(self.rng, sentences=5)
            if data.draw(st.booleans())
            else data.draw(st.sampled_from(self._texts()))
        )
        self._write(f"f{len(self.files)}.jsonl", [self._record(text, published_at="1985-01-01T00:00:00Z")])
        self._write(f"f{len(self.files)}.jsonl", [self._record(text)])

    @precondition(lambda self: self.files)
    @rule(data=st.data(), how=st.sampled_from(["drop", "edit", "keep_text_retitle"]))
    def correct_a_file(self, data, how: str) -> None:
        name = data.draw(st.sampled_from(sorted(self.files)))
        records = [dict(r) for r in self.files[name]]
        i = data.draw(st.integers(0, len(records) - 1))
        if how == "drop":
            records.pop(i)
            if not records:
                records = [self._record(random_text(self.rng, sentences=5))]
        elif how == "edit":
            records[i]["text"] = random_text(self.rng, sentences=5)
        else:
            records[i]["title"] = records[i]["title"] + " (updated)"
        self._write(name, records)

    @precondition(lambda self: self.files)
    @rule()
    def run(self) -> None:
        self.day += 1
        settings_ = Settings.from_env(landing=self.landing, warehouse=self.wh, workers=1)
        s = run_pipeline(settings_, now=NOW + timedelta(days=self.day))
        assert s.status == "completed"

    @invariant()
    def every_copy_points_at_an_article(self) -> None:
        if not self.wh.exists():
            return
        dangling = q(
            self.wh,
            "SELECT article_id, duplicate_of FROM duplicates WHERE duplicate_of NOT IN (SELECT article_id FROM articles)",
        )
        assert dangling == [], dangling
        # A record is in exactly one place, and every record read is somewhere.
        both = q(self.wh, "SELECT count(*) FROM duplicates WHERE article_id IN (SELECT article_id FROM articles)")[0][0]
        assert both == 0
        assert q(self.wh, "SELECT count(*) = count(DISTINCT article_id) FROM articles") == [(True,)]
        read, landed = accounting(self.wh)
        assert read == landed


TestCopiesStateMachine = Warehouse.TestCase
TestCopiesStateMachine.settings = settings(
    max_examples=12, stateful_step_count=10, deadline=None, suppress_health_check=list(HealthCheck)
)
TestCopiesStateMachine = pytest.mark.slow(TestCopiesStateMachine)
