"""Stories: which articles report the same event, across outlets, runs and days (pure functions over Arrow).

How a story is decided (README "Stories" has the measurements):
- An article is described by the terms of its title (counted twice) and its first LEAD_TOKENS tokens:
  lower-cased words cut to their first PREFIX letters (a crude stemmer that works across inflecting
  languages: Turkish `ankara'da`/`ankara'ya`, French `attaque`/`attaques`), numbers kept, the language's
  stop words (stopwords-iso, shipped with its package) and words under three letters dropped. Terms are
  stored hashed (CRC-32) with their counts in the story index, so a later run never re-reads texts.
- Weights are TF-IDF: 1 + log(count) times log((N + IDF_PRIOR) / (df + 0.5)), where the document frequencies
  come from the articles being compared (the day's articles plus the index rows inside the window):
  the weights adapt to what the news talks about this fortnight, and nothing is downloaded.
- An article joins the story of its most similar earlier article (cosine >= Settings.story_threshold)
  published within Settings.story_window_days of it; otherwise it starts a story. Comparing with single
  articles instead of story centroids keeps a long story's latest turns reachable; taking only the best
  link (not every link) keeps one loose match from chaining stories together.
- When an article links two published stories strongly (cosine >= merge threshold with each), the
  younger story is merged into the older: a story_merges row, never a rewrite. Stories made in the same
  run are not published yet, so they are simply joined.
- Exact and near copies are not compared: they belong to the story of the article they copy (views).

Wire credits (`wire_credit`) name the agency a text says it comes from: "(AP)", "Reuters", "AFP", "dpa",
"Source: ...", in the dateline or the last lines of the text.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
import stopwordsiso

from newsetl.clean import _CJK

LEAD_CHARS = 3000  # about 400 words: SemEval same-story pairs linked at 0.3: 87 % with 150 words, 94 % with 400
PREFIX = 5  # measured against whole words: 94 % vs 73 % of same-story pairs at the same false-link rate
TITLE_WEIGHT = 2
# Documents assumed to lack every term, so a handful of articles (a first small run) are not weighed by
# a document frequency of two or three: with 2 articles a shared word would weigh a quarter of an unshared
# one. On 960 SemEval articles the prior changes no decision (measured).
IDF_PRIOR = 50.0
MERGE_FACTOR = 1.6
TOP_LINKS = 8  # an article's best matches looked at (the best decides the story, the others may merge)
TOP_TERMS = 10  # an article's heaviest terms that find its candidates...
CANDIDATE_SHARE = 0.3  # ...when their partial score reaches this share of the threshold
COMMON_SHARE = 0.1  # terms in more than this share of the compared articles stay out of the product...
COMMON_MIN_ROWS = 200  # ...once there are this many (with few articles every term is rare)  # merging two published stories needs links of threshold * MERGE_FACTOR to both

# The story index: one row per article, what later runs compare their articles with.
_CJK_RE = re.compile(f"[{_CJK}]")
TERMS = pa.list_(pa.uint32())
COUNTS = pa.list_(pa.uint16())


# Word prefixes (PREFIX letters of a word of three or more) and numbers; Han/kana/Hangul runs give bigrams.
_WORD = re.compile(rf"\b(?:[^\W\d_{_CJK}]{{3,{PREFIX}}}|\d+)")
_CJK_PAIR = re.compile(rf"(?=([{_CJK}]{{2}}))")


@cache
def _stop(language: str | None) -> frozenset[str]:
    """Return the language's stop words cut to PREFIX letters (stopwords-iso; none for other languages)."""
    lang = (language or "").split("-")[0].lower()
    words = stopwordsiso.stopwords(lang) if lang and stopwordsiso.has_lang(lang) else set()
    return frozenset(w[:PREFIX] for w in words if len(w) >= 3)


def article_terms(title: str | None, text: str | None, language: str | None = None) -> Counter[int]:
    """Return the hashed story terms of an article with their counts (title terms count TITLE_WEIGHT times)."""
    words: Counter[str] = Counter()
    for weight, part in ((1, (text or "")[:LEAD_CHARS]), (TITLE_WEIGHT, title or "")):
        low = part.lower()
        found = Counter(_WORD.findall(low))
        if _CJK_RE.search(low):
            found.update(_CJK_PAIR.findall(low))
        if weight != 1:
            found = Counter({w: c * weight for w, c in found.items()})
        words.update(found)
    stop = _stop(language)
    return Counter({_hash(w): c for w, c in words.items() if w not in stop})


@lru_cache(maxsize=1 << 18)
def _hash(term: str) -> int:
    return zlib.crc32(term.encode())


def terms_columns(titles: list, texts: list, languages: list) -> dict[str, pa.Array]:
    """Return the `terms` and `counts` columns (story index) for parallel lists of titles, texts, languages."""
    terms, counts = [], []
    for title, text, lang in zip(titles, texts, languages, strict=True):
        c = article_terms(title, text, lang)
        terms.append(list(c.keys()))
        counts.append([min(v, 65535) for v in c.values()])
    return {"terms": pa.array(terms, TERMS), "counts": pa.array(counts, COUNTS)}


def new_story_id(article_id: str) -> str:
    """Return the id of a story an article starts: stable, and the same whichever machine assigns it."""
    return "s-" + hashlib.blake2b(article_id.encode(), digest_size=8).hexdigest()


@dataclass
class Assignment:
    """What assign_stories decided for a run's articles."""

    story_ids: list[str]  # one per run article, in the run table's order
    linked_to: list[str | None]  # the earlier article each one joined through (None: started a story)
    similarity: list[float | None]
    merges: list[dict] = field(default_factory=list)  # story_id, merged_into, article_id, similarity

    @property
    def new_stories(self) -> set[str]:
        return {s for s, via in zip(self.story_ids, self.linked_to, strict=True) if via is None}


def assign_stories(
    run: pa.Table,
    index: pa.Table,
    threshold: float,
    window: timedelta,
    resolve: dict[str, str] | None = None,
) -> Assignment:
    """Give every article of `run` a story: the story of its best earlier match, or a new one.

    run:   article_id, event_time, terms, counts (this run's articles).
    index: article_id, story_id, event_time, terms, counts (published articles inside the window).
    Both may have `ingested_at` (when the article was loaded) and `dated` (False: event_time is only the
    ingest time). Two dated articles are in the window when their dates are; when either is undated,
    when they arrived within the window of each other (an undated article's date is unknown, not late).
    resolve: story id -> the story it was merged into (already resolved to the root).
    Articles are taken in event-time order (ties: article id), so the result does not depend on how
    the run's files were chunked.
    """
    resolve = dict(resolve or {})
    n, m = run.num_rows, index.num_rows
    if n == 0:
        return Assignment([], [], [])
    ids = run.column("article_id").to_pylist()
    h_ids = index.column("article_id").to_pylist()
    h_story = [resolve.get(s, s) for s in index.column("story_id").to_pylist()]
    times = np.concatenate([_seconds(_chunk(index, "event_time")), _seconds(_chunk(run, "event_time"))])
    arrived = np.concatenate([_arrival(index), _arrival(run)])
    dated = np.concatenate([_dated(index), _dated(run)])
    vectors = _tfidf(
        pa.concat_arrays([_chunk(index, "terms"), _chunk(run, "terms")]),
        pa.concat_arrays([_chunk(index, "counts"), _chunk(run, "counts")]),
    )
    sims = _similar(vectors, m, threshold)  # run rows x (index + run) columns, entries >= threshold
    order = sorted(range(n), key=lambda i: (times[m + i], ids[i]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    win = window.total_seconds()
    merge_at = min(0.95, threshold * MERGE_FACTOR)

    story: list[str | None] = [None] * n
    via: list[str | None] = [None] * n
    best_sim: list[float | None] = [None] * n
    joined: dict[str, str] = {}  # run-made story -> the story it was joined to (union-find, unpublished)
    published = set(h_story)
    founded: dict[str, float] = {}
    for s, t in zip(h_story, times[:m].tolist(), strict=True):
        founded[s] = min(t, founded.get(s, math.inf))
    merges: list[dict] = []

    def root(s: str) -> str:
        while s in joined:
            s = joined[s]
        return resolve.get(s, s)

    # Every candidate pair at once: inside the window, and earlier (an index row, or a run row taken
    # before). Then per run row its candidates best first, so the loop below is plain Python.
    prow = np.repeat(np.arange(n), np.diff(sims.indptr))
    pcol, psim = sims.indices, sims.data
    col_rank = np.full(len(pcol), -1, dtype=np.int64)
    in_run = pcol >= m
    col_rank[in_run] = rank[pcol[in_run] - m]
    both = dated[pcol] & dated[m + prow]
    gap = np.where(both, np.abs(times[pcol] - times[m + prow]), np.abs(arrived[pcol] - arrived[m + prow]))
    keep = (gap <= win) & (col_rank < rank[prow])
    prow, pcol, psim = prow[keep], pcol[keep], psim[keep]
    by = np.lexsort((pcol, -psim, prow))
    prow, pcol, psim = prow[by], pcol[by], psim[by]
    starts = np.searchsorted(prow, np.arange(n), side="left")
    ends = np.searchsorted(prow, np.arange(n), side="right")
    for i in order:
        lo, hi = int(starts[i]), min(int(ends[i]), int(starts[i]) + TOP_LINKS)
        if lo == hi:
            story[i] = new_story_id(ids[i])
            continue
        # Only the best few matter: the best decides the story, the next ones may merge stories.
        links = list(zip(psim[lo:hi].tolist(), pcol[lo:hi].tolist(), strict=True))
        s0, c0 = links[0]
        target = root(h_story[c0] if c0 < m else story[c0 - m])  # type: ignore[arg-type]
        story[i], via[i], best_sim[i] = target, (h_ids[c0] if c0 < m else ids[c0 - m]), s0
        for s, c in links[1:]:
            if s < merge_at:
                break
            other = root(h_story[c] if c < m else story[c - m])  # type: ignore[arg-type]
            if other == target:
                continue
            if other in published and target in published:
                # Both published: the younger (by founding time) goes into the older; recorded, not rewritten.
                old, young = sorted((target, other), key=lambda x: (founded[x], x))
                resolve[young] = old
                merges.append({"story_id": young, "merged_into": old, "article_id": ids[i], "similarity": s})
                target = old
            else:
                unpublished = other if other not in published else target
                kept = target if unpublished == other else other
                joined[unpublished] = kept
                target = kept
        story[i] = target
    final = [root(s) for s in story]  # type: ignore[arg-type]
    return Assignment(final, via, best_sim, merges=merges)


def _chunk(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)


def _similar(vectors: sp.csr_matrix, m: int, threshold: float, block: int = 4096) -> sp.csr_matrix:
    """Return the cosine similarities >= threshold of rows m.. with every row, as a sparse matrix.

    Terms in more than COMMON_SHARE of the rows (with at least COMMON_MIN_ROWS rows) are left out: they
    weigh little (low IDF) but would pair almost every article with every other. Candidates come from
    each article's TOP_TERMS heaviest terms (its names, places, numbers) against every row: a pair whose
    partial score reaches CANDIDATE_SHARE of the threshold gets its exact cosine. Measured against the
    full product: 99.4 % of the pairs at or above 0.28 on SemEval, 99.9 % on the benchmark corpus, at
    a fifth of the cost there. Blocks of rows keep memory bounded however alike a day's articles are.
    """
    rows = vectors.shape[0]
    if rows >= COMMON_MIN_ROWS:
        df = np.bincount(vectors.indices, minlength=vectors.shape[1])
        common = df > COMMON_SHARE * rows
        if common.any():
            vectors = (vectors @ sp.diags((~common).astype(np.float64))).tocsr()
            vectors.eliminate_zeros()
    left = _heaviest(vectors[m:], TOP_TERMS)
    right = vectors.T.tocsc()
    parts = []
    for start in range(0, rows - m, block):
        stop = min(rows - m, start + block)
        partial = (left[start:stop] @ right).tocoo()
        sure = partial.data >= CANDIDATE_SHARE * threshold
        r, c = partial.row[sure], partial.col[sure]
        exact = np.asarray(vectors[m + start + r].multiply(vectors[c]).sum(axis=1)).ravel()
        hit = exact >= threshold
        parts.append(sp.csr_matrix((exact[hit], (r[hit], c[hit])), shape=(stop - start, rows)))
    return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, rows))


def _heaviest(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Return `matrix` with only the k largest entries of each row."""
    lengths = np.diff(matrix.indptr)
    row = np.repeat(np.arange(matrix.shape[0]), lengths)
    # By row, heaviest first: weights of normalised rows are in (0, 1], so one float key sorts both.
    order = np.argsort(row + (1.0 - matrix.data) * 0.5, kind="stable")
    rank = np.arange(len(order)) - np.repeat(matrix.indptr[:-1], lengths)
    keep = order[rank < k]
    return sp.csr_matrix((matrix.data[keep], (row[keep], matrix.indices[keep])), shape=matrix.shape)


def _arrival(table: pa.Table) -> np.ndarray:
    """Seconds of each row's ingest time (event time where the table has no ingested_at)."""
    name = "ingested_at" if "ingested_at" in table.column_names else "event_time"
    return _seconds(pc.coalesce(_chunk(table, name), _chunk(table, "event_time")))


def _dated(table: pa.Table) -> np.ndarray:
    if "dated" not in table.column_names:
        return np.ones(table.num_rows, dtype=bool)
    return _chunk(table, "dated").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def _seconds(arr: pa.Array) -> np.ndarray:
    """Timestamps as float seconds since the epoch (the callers fill nulls with the ingest time)."""
    us = arr.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    return us.astype(np.float64) / 1e6


def _tfidf(terms: pa.Array, counts: pa.Array) -> sp.csr_matrix:
    """Return the L2-normalised TF-IDF rows of hashed term lists, IDF over these rows themselves.

    In place where it can be: a day's window holds millions of terms, and each fresh array of them costs
    its page faults (a run's first pass over them took 0.7 s at 4.3 million terms with a temporary per step).
    """
    rows = len(terms)
    lengths = np.diff(terms.offsets.to_numpy()) if rows else np.zeros(0, np.int64)
    encoded = pc.dictionary_encode(terms.flatten())  # hashing, not sorting: the column of each term
    cols = encoded.indices.to_numpy(zero_copy_only=False)
    vocab = encoded.dictionary
    w = counts.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
    np.maximum(w, 1.0, out=w)
    np.log(w, out=w)
    w += 1.0
    df = np.bincount(cols, minlength=len(vocab)).astype(np.float64)
    w *= np.log((rows + IDF_PRIOR) / (df + 0.5))[cols]
    row_of = np.repeat(np.arange(rows, dtype=np.int32), lengths)
    norms = np.sqrt(np.bincount(row_of, weights=w * w, minlength=rows))
    norms[norms == 0] = 1.0
    w /= np.repeat(norms, lengths)
    offsets = terms.offsets.to_numpy().astype(np.int64)
    indptr = offsets - offsets[0] if rows else np.zeros(1, np.int64)
    # Rows are already in order and an article's terms are distinct: CSR directly, nothing to sort.
    return sp.csr_matrix((w, cols, indptr), shape=(rows, len(vocab)))


# ---------------------------------------------------------------- wire credits

_AGENCIES = {
    "AP": r"AP|Associated Press",
    "Reuters": r"Reuters",
    "AFP": r"AFP|Agence France[- ]Presse",
    "dpa": r"dpa|DPA|Deutsche Presse-Agentur",
    "EFE": r"EFE",
    "ANSA": r"ANSA",
    "Anadolu": r"AA|Anadolu Ajansı|Anadolu Agency",
    "Xinhua": r"Xinhua",
    "UPI": r"UPI",
    "PA": r"PA Media",
    "Kyodo": r"Kyodo",
    "TASS": r"TASS|ТАСС",
    "Interfax": r"Interfax|Интерфакс",
    "Ukrinform": r"Ukrinform|Укрінформ",
    "APA": r"APA",
    "Belga": r"Belga",
    "ANP": r"ANP",
    "Lusa": r"Lusa",
}
_AGENCY = "|".join(f"(?P<{re.sub(r'[^A-Za-z]', '', k)}>{v})" for k, v in _AGENCIES.items())
_NAMES = {re.sub(r"[^A-Za-z]", "", k): k for k in _AGENCIES}
# "WASHINGTON (AP) —", "(Reuters) -", "PARIS, 3 mars (AFP) -", "Berlin (dpa) -": a dateline credit.
_DATELINE = re.compile(rf"^[^\n]{{0,80}}?\((?:{_AGENCY})\)\s*[-–—:]", re.UNICODE)
# "Source: Reuters", "Quelle: dpa", "Fuente: EFE", "Kaynak: AA", "Источник: ТАСС", "(AFP)" on a last line.
_CREDIT = re.compile(
    rf"(?:\b(?:Source|Sources|Quelle|Fuente|Kaynak|Источник|Джерело|Fonte|Bron|Źródło|Zdroj)\s*:\s*|\()"
    rf"(?:{_AGENCY})\b\)?",
    re.UNICODE | re.IGNORECASE,
)
_SOURCE_OTHER = re.compile(
    r"\b(?:Source|Quelle|Fuente|Kaynak|Источник|Fonte)\s*:\s*([A-Z][\w.&' -]{1,40}?)\s*$", re.UNICODE | re.MULTILINE
)


def wire_credit(text: str | None) -> str | None:
    """Return the agency a text credits as its source ("AP", "Reuters", "AFP", "dpa", ...), or None.

    Looks only where credits stand: the dateline (first 200 characters) and the last 300 characters,
    so an article that merely mentions Reuters in its body is not a wire copy.
    """
    if not text:
        return None
    head, tail = text[:200], text[-300:]
    for part, pattern in ((head, _DATELINE), (tail, _CREDIT), (head, _CREDIT)):
        m = pattern.search(part)
        if m and (name := _matched(m)):
            return name
    m = _SOURCE_OTHER.search(tail)
    return m.group(1).strip() if m else None


def _matched(m: re.Match) -> str | None:
    for group, value in m.groupdict().items():
        if value is not None:
            if group == "AA" or group == "Anadolu" or value == "AA":
                return "Anadolu"
            return _NAMES.get(group, group)
    return None
