"""Dedup: exact (hash of normalised text) and near (MinHash + LSH) duplicates, within a run and against history.

Parameters and why:
- Shingles are 5-token windows (datatrove's MinHash dedup uses 5-grams): a changed sentence in a
  news story alters a few dozen shingles, while two outlets' independent write-ups of one event
  share almost none (the two seeds of this project share no 5-token window in their bodies).
- 100 permutations in 20 bands of 5 rows. The LSH S-curve 1-(1-s^5)^20 makes a pair with
  Jaccard 0.7 a candidate with probability 0.975 and one at 0.3 with probability 0.047, so
  candidates are few and recall at the threshold is high.
- A candidate is a near duplicate when its estimated Jaccard (share of equal signature slots)
  is >= 0.7 (Settings.near_threshold). Datatrove and text-dedup use 0.7-0.8 for web text; 0.7
  catches a story re-published with a sentence or a paragraph changed. The estimate's standard
  error at 0.7 is about 0.046 with 100 permutations.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsetl.clean import tokens
from newsetl.schema import DECISIONS

SHINGLE = 5
BANDS = 20
ROWS = 5
NUM_PERM = BANDS * ROWS
_PRIME = np.uint64(4294967311)  # smallest prime above 2**32: a*x+b < 2**64 for 32-bit a, b, x
_rng = np.random.RandomState(20240215)  # fixed: signatures are persisted and compared across runs
_A = _rng.randint(1, 2**32 - 1, size=NUM_PERM, dtype=np.uint64)
_B = _rng.randint(0, 2**32 - 1, size=NUM_PERM, dtype=np.uint64)
_SHINGLE_MIX = np.uint64(0x100000001B3)
_BAND_MIX = np.array([0x9E3779B97F4A7C15 ^ (i * 0x100000001B3) for i in range(BANDS)], dtype=np.uint64)


def shingle_hashes(text: str) -> np.ndarray:
    """Return the distinct 32-bit hashes of the text's 5-token shingles.

    Each token is hashed once (CRC-32) and the five hashes of a window are combined with a
    polynomial in numpy, instead of building and hashing every shingle string.
    """
    toks = tokens(text)
    if not toks:
        return np.zeros(0, dtype=np.uint64)
    h = np.fromiter((zlib.crc32(t.encode()) for t in toks), dtype=np.uint64, count=len(toks))
    width = min(SHINGLE, len(h))
    n = len(h) - width + 1
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):  # wrap-around multiplication is the intended mixing
            acc = acc * _SHINGLE_MIX + h[j : j + n]
    return np.unique((acc ^ (acc >> np.uint64(32))) & np.uint64(0xFFFFFFFF))


def minhash(text: str) -> np.ndarray:
    """Return the MinHash signature (NUM_PERM uint32 values) of a text."""
    h = shingle_hashes(text)
    sig = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint64)
    for start in range(0, len(h), 4096):  # bound the (perm x shingle) matrix for very long texts
        block = h[start : start + 4096]
        vals = (_A[:, None] * block[None, :] + _B[:, None]) % _PRIME
        np.minimum(sig, vals.min(axis=1) & np.uint64(0xFFFFFFFF), out=sig)
    return sig.astype(np.uint32)


def band_keys(signature: np.ndarray) -> np.ndarray:
    """Return the BANDS int64 LSH keys of a signature (one hash per band of ROWS values)."""
    rows = signature.astype(np.uint64).reshape(BANDS, ROWS)
    key = _BAND_MIX.copy()
    with np.errstate(over="ignore"):
        for j in range(ROWS):  # FNV-style mix; wrap-around is intended
            key = (key ^ rows[:, j]) * np.uint64(0x100000001B3)
    return key.view(np.int64)


def fingerprint_texts(texts: Sequence[str]) -> tuple[list[list[int]], list[list[int]]]:
    """Return (signatures, band keys) as Python lists, one entry per text, ready for Arrow."""
    sigs, bands = [], []
    for t in texts:
        s = minhash(t)
        sigs.append(s.tolist())
        bands.append(band_keys(s).tolist())
    return sigs, bands


def _order_key(published: datetime | None, order: int) -> tuple:
    # Earliest published first; undated copies after dated ones; ties by ingest order.
    return (published is None, published or datetime.min, order)


def find_duplicates(run: pa.Table, history: pa.Table, threshold: float = 0.7) -> pa.Table:
    """Return a DECISIONS row per record of `run`: kept, or an exact/near duplicate of another article.

    run: record_id, text_hash, published_at, ingest_order, signature, bands (this run's records).
    history: article_id, text_hash, published_at, signature, bands (already loaded articles that
    share a hash or a band key with the run). Loaded articles are never displaced: a copy in the run
    of a loaded article is the duplicate, whatever its date. Within the run the earliest published
    copy is kept (ties: first ingested).
    """
    n, h = run.num_rows, history.num_rows
    ids = run.column("record_id").to_pylist()
    hashes = run.column("text_hash").to_pylist()
    published = run.column("published_at").to_pylist()
    ingest = run.column("ingest_order").to_pylist()
    h_ids = history.column("article_id").to_pylist()
    # Slots 0..h-1 are history articles, h..h+n-1 this run's records.
    sigs = np.vstack(
        [
            _matrix(history.column("signature"), np.uint32, NUM_PERM),
            _matrix(run.column("signature"), np.uint32, NUM_PERM),
        ]
    )
    order = sorted(range(n), key=lambda i: _order_key(published[i], ingest[i]))

    status: list[str] = ["kept"] * n
    dup_of: list[str | None] = [None] * n
    sim: list[float | None] = [None] * n
    by_hash: dict[str, str] = {}
    h_pub = history.column("published_at").to_pylist()
    h_hashes = history.column("text_hash").to_pylist()
    for j in sorted(range(h), key=lambda j: _order_key(h_pub[j], 0)):
        by_hash.setdefault(h_hashes[j], h_ids[j])
    for i in order:
        if hashes[i] in by_hash:
            status[i], dup_of[i], sim[i] = "exact", by_hash[hashes[i]], 1.0
        else:
            by_hash[hashes[i]] = ids[i]

    # LSH: slots sharing any band key are candidates. Grouping sorted keys in numpy keeps memory at
    # a few arrays of (slots x BANDS) integers instead of a Python dict entry per band.
    candidates = list(range(h)) + [h + i for i in range(n) if status[i] == "kept"]
    neighbours = _band_neighbours(
        np.vstack([_matrix(history.column("bands"), np.int64, BANDS), _matrix(run.column("bands"), np.int64, BANDS)]),
        np.asarray(candidates, dtype=np.int64),
    )
    kept = np.zeros(h + n, dtype=bool)
    kept[:h] = True
    for i in order:
        if status[i] != "kept":
            continue
        slot = h + i
        near = [c for c in neighbours.get(slot, ()) if kept[c]]
        if near:
            sims = (sigs[near] == sigs[slot]).mean(axis=1)
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                c = near[best]
                status[i], dup_of[i], sim[i] = "near", (h_ids[c] if c < h else ids[c - h]), float(sims[best])
                continue
        kept[slot] = True
    return pa.Table.from_arrays(
        [
            pa.array(ids, pa.string()),
            pa.array(status, pa.string()),
            pa.array(dup_of, pa.string()),
            pa.array(sim, pa.float64()),
        ],
        schema=DECISIONS,
    )


def _band_neighbours(bands: np.ndarray, slots: np.ndarray) -> dict[int, list[int]]:
    """Return {slot: [other slots sharing a band key]} for the given slots (only slots with any)."""
    if len(slots) == 0:
        return {}
    # Keys of different bands never compare equal by construction (each band has its own mix seed).
    keys = bands[slots].ravel()
    owners = np.repeat(slots, BANDS)
    idx = np.argsort(keys, kind="stable")
    keys, owners = keys[idx], owners[idx]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    out: dict[int, set[int]] = {}
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        group = set(owners[start : start + size].tolist())
        for s in group:
            out.setdefault(s, set()).update(group - {s})
    return {s: sorted(v) for s, v in out.items() if v}


def history_candidates(run: pa.Table, history: pa.Table) -> np.ndarray:
    """Return the indices of `history` rows that share a text hash, or a band key in the same band, with a
    record of `run`: the only history rows find_duplicates can match. Both tables: text_hash, bands."""
    if run.num_rows == 0 or history.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    hit = (
        pc.is_in(history.column("text_hash"), value_set=run.column("text_hash").combine_chunks())
        .fill_null(False)
        .to_numpy(zero_copy_only=False)
        .astype(bool)
    )
    h_bands = _matrix(history.column("bands"), np.int64, BANDS)
    r_bands = _matrix(run.column("bands"), np.int64, BANDS)
    for b in range(BANDS):
        hit |= pc.is_in(pa.array(h_bands[:, b]), value_set=pa.array(r_bands[:, b])).to_numpy(zero_copy_only=False)
    return np.flatnonzero(hit)


def _matrix(column: pa.ChunkedArray, dtype: type, width: int) -> np.ndarray:
    """Return a list<int> column of fixed-length lists as an (n, width) array, without Python lists."""
    if len(column) == 0:
        return np.zeros((0, width), dtype=dtype)
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return flat.astype(dtype, copy=False).reshape(len(column), width)
