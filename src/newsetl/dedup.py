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

from newsetl.clean import tokens

SHINGLE = 5
BANDS = 20
ROWS = 5
NUM_PERM = BANDS * ROWS
_PRIME = np.uint64(4294967311)  # smallest prime above 2**32: a*x+b < 2**64 for 32-bit a, b, x
_rng = np.random.RandomState(20240215)  # fixed: signatures are persisted and compared across runs
_A = _rng.randint(1, 2**32 - 1, size=NUM_PERM, dtype=np.uint64)
_B = _rng.randint(0, 2**32 - 1, size=NUM_PERM, dtype=np.uint64)
_BAND_MIX = np.array([0x9E3779B97F4A7C15 ^ (i * 0x100000001B3) for i in range(BANDS)], dtype=np.uint64)

DECISIONS = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # kept | exact | near
        pa.field("duplicate_of", pa.string()),
        pa.field("similarity", pa.float64()),
    ]
)


def shingle_hashes(text: str) -> np.ndarray:
    """Return the distinct 32-bit hashes of the text's 5-token shingles."""
    toks = tokens(text)
    if len(toks) < SHINGLE:
        grams = [" ".join(toks)] if toks else []
    else:
        grams = [" ".join(toks[i : i + SHINGLE]) for i in range(len(toks) - SHINGLE + 1)]
    return np.unique(np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams)))


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
    hist_rows = history.to_pylist()
    rows = run.select(["record_id", "text_hash", "published_at", "ingest_order"]).to_pylist()
    sigs = np.asarray(run.column("signature").to_pylist(), dtype=np.uint32).reshape(len(rows), NUM_PERM)
    bands = np.asarray(run.column("bands").to_pylist(), dtype=np.int64).reshape(len(rows), BANDS)

    by_hash: dict[str, str] = {}
    kept_sigs: list[np.ndarray] = []
    kept_ids: list[str] = []
    buckets: dict[tuple[int, int], list[int]] = {}

    def keep(article_id: str, sig: np.ndarray, keys: Sequence[int]) -> None:
        kept_ids.append(article_id)
        kept_sigs.append(sig)
        slot = len(kept_ids) - 1
        for b, k in enumerate(keys):
            buckets.setdefault((b, int(k)), []).append(slot)

    for h in sorted(hist_rows, key=lambda r: _order_key(r["published_at"], 0)):
        by_hash.setdefault(h["text_hash"], h["article_id"])
        keep(h["article_id"], np.asarray(h["signature"], dtype=np.uint32), h["bands"])

    order = sorted(range(len(rows)), key=lambda i: _order_key(rows[i]["published_at"], rows[i]["ingest_order"]))
    out: list[dict] = [{}] * len(rows)
    for i in order:
        rid, th = rows[i]["record_id"], rows[i]["text_hash"]
        if th in by_hash:
            out[i] = {"record_id": rid, "status": "exact", "duplicate_of": by_hash[th], "similarity": 1.0}
            continue
        by_hash[th] = rid
        cands = {s for b, k in enumerate(bands[i]) for s in buckets.get((b, int(k)), ())}
        best, best_sim = None, 0.0
        if cands:
            idx = sorted(cands)
            sims = (np.stack([kept_sigs[s] for s in idx]) == sigs[i]).mean(axis=1)
            j = int(np.argmax(sims))
            best, best_sim = idx[j], float(sims[j])
        if best is not None and best_sim >= threshold:
            out[i] = {"record_id": rid, "status": "near", "duplicate_of": kept_ids[best], "similarity": best_sim}
        else:
            out[i] = {"record_id": rid, "status": "kept", "duplicate_of": None, "similarity": None}
            keep(rid, sigs[i], bands[i])
    return pa.Table.from_pylist(out, schema=DECISIONS) if out else DECISIONS.empty_table()
