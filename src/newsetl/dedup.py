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
from collections.abc import Callable, Sequence

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


def find_duplicates(
    run: pa.Table,
    history: pa.Table,
    threshold: float = 0.7,
    signatures: Callable[[np.ndarray], np.ndarray] | None = None,
) -> pa.Table:
    """Return a DECISIONS row per record of `run`: kept, or an exact/near duplicate of another article.

    run: record_id, text_hash, published_at, ingest_order, bands (this run's records), and signature
    unless `signatures` is given: then signatures(rows) returns the (len(rows), NUM_PERM) signatures of
    those run rows, and only rows that share a band key with another are asked for.
    history: article_id, text_hash, published_at, signature, bands (already loaded articles that
    share a hash or a band key with the run). Loaded articles are never displaced: a copy in the run
    of a loaded article is the duplicate, whatever its date. Within the run the earliest published
    copy is kept (ties: first ingested; undated after dated).

    Columns stay in numpy and Arrow, with no Python object per record: a run of 1,000,000 records holds
    its keys (hashes, band keys, dates) and only the signatures of records with LSH neighbours. Python
    lists of every column took over 2 GB. Only records with neighbours go through the one loop that must
    be sequential (a record can only copy an article kept before it).
    """
    n, h = run.num_rows, history.num_rows
    if signatures is None:
        run_sigs = _matrix(run.column("signature"), np.uint32, NUM_PERM)

        def signatures(rows: np.ndarray) -> np.ndarray:
            return run_sigs[rows]

    # Slots 0..h-1 are history articles, h..h+n-1 this run's records; rank: the order they are taken in.
    rank = np.empty(h + n, dtype=np.int64)
    rank[_order(history.column("published_at"), None)] = np.arange(h)
    rank[h + _order(run.column("published_at"), run.column("ingest_order"))] = h + np.arange(n)
    ids = pa.concat_arrays(
        [_flat(history.column("article_id"), pa.string()), _flat(run.column("record_id"), pa.string())]
    )

    # Exact: the first slot (by rank) with a text hash keeps it; the others copy that slot.
    hashes = pa.concat_arrays(
        [_flat(history.column("text_hash"), pa.string()), _flat(run.column("text_hash"), pa.string())]
    )
    code = pc.dictionary_encode(hashes).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    by = np.lexsort((rank, code))
    first = np.r_[True, code[by][1:] != code[by][:-1]] if len(by) else np.zeros(0, bool)
    keeper_of = np.zeros(int(code.max()) + 1 if len(code) else 0, dtype=np.int64)
    keeper_of[code[by][first]] = by[first]
    dup_of = keeper_of[code[h:]]
    status = np.where(dup_of != h + np.arange(n), _EXACT, _KEPT).astype(np.int8)
    sim = np.where(status == _EXACT, 1.0, np.nan)

    # Near: slots sharing a band key (history, and run records that are not exact copies) are neighbours.
    slots = np.r_[np.arange(h), h + np.flatnonzero(status == _KEPT)].astype(np.int64)
    src, dst = _band_pairs(_flat(history.column("bands"), _BANDS), _flat(run.column("bands"), _BANDS), h, slots)
    if len(src):
        involved = np.unique(np.r_[src, dst])
        sigs = np.zeros((len(involved), NUM_PERM), dtype=np.uint32)
        in_run = involved >= h
        if (~in_run).any():
            sigs[~in_run] = _matrix(history.column("signature"), np.uint32, NUM_PERM)[involved[~in_run]]
        sigs[in_run] = signatures(involved[in_run] - h)
        row = np.full(h + n, -1, dtype=np.int64)
        row[involved] = np.arange(len(involved))
        kept = np.zeros(h + n, dtype=bool)
        kept[:h] = True  # a run record is kept once taken (in rank order) and found no near copy
        own = np.unique(src)
        starts, ends = np.searchsorted(src, own, side="left"), np.searchsorted(src, own, side="right")
        for k in np.argsort(rank[own], kind="stable").tolist():
            slot = int(own[k])
            near = dst[starts[k] : ends[k]]
            near = near[kept[near]]
            if len(near):
                sims = (sigs[row[near]] == sigs[row[slot]]).mean(axis=1)
                best = int(np.argmax(sims))
                if sims[best] >= threshold:
                    i = slot - h
                    status[i], dup_of[i], sim[i] = _NEAR, near[best], float(sims[best])
                    continue
            kept[slot] = True
    return pa.Table.from_arrays(
        [
            ids.slice(h),
            pc.take(pa.array(_STATUS, pa.string()), pa.array(status)),
            pc.take(ids, pa.array(dup_of, mask=status == _KEPT)),
            pa.array(sim, pa.float64(), mask=np.isnan(sim)),
        ],
        schema=DECISIONS,
    )


_STATUS = ["kept", "exact", "near"]
_KEPT, _EXACT, _NEAR = 0, 1, 2


_BANDS = pa.list_(pa.int64())


def _flat(column: pa.ChunkedArray | pa.Array, type: pa.DataType | None = None) -> pa.Array:
    """One array of a column (an empty table's columns may be typed null: cast to `type`)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column.cast(type) if type is not None and column.type != type else column


def _order(published: pa.ChunkedArray, ingest: pa.ChunkedArray | None) -> np.ndarray:
    """Return row indices in the order records are taken: earliest published first, undated after
    dated, ties by ingest order, then by row (stable, as the Python sort it replaces)."""
    pub = _flat(published, pa.timestamp("us", tz="UTC")).cast(pa.int64())
    undated = pc.is_null(pub).to_numpy(zero_copy_only=False).astype(np.int8)
    keys = [pub.fill_null(0).to_numpy(zero_copy_only=False), undated]
    if ingest is not None:
        keys.insert(0, _flat(ingest, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))
    return np.lexsort(keys).astype(np.int64)


def _band_pairs(h_bands: pa.Array, r_bands: pa.Array, h: int, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (src, dst): every pair of distinct `slots` sharing a key in the same band, src a run slot
    (>= h), sorted by src then dst, each pair once. Slots < h index h_bands, the others r_bands - h.

    Band by band: one band's keys of 1,000,000 records are 8 MB, where sorting all bands at once held
    several (records x BANDS) arrays.
    """
    flat = [b.flatten().to_numpy(zero_copy_only=False) if len(b) else np.zeros(0, np.int64) for b in (h_bands, r_bands)]
    in_h = slots < h
    srcs, dsts = [], []
    for band in range(BANDS):
        keys = np.empty(len(slots), dtype=np.int64)
        keys[in_h] = flat[0][slots[in_h] * BANDS + band]
        keys[~in_h] = flat[1][(slots[~in_h] - h) * BANDS + band]
        by = np.argsort(keys, kind="stable")
        k, owners = keys[by], slots[by]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if len(k) else np.zeros(0, np.int64)
        sizes = np.diff(np.r_[starts, len(k)])
        shared = sizes > 1
        if not shared.any():
            continue
        g_start, g_size = starts[shared], sizes[shared]
        # Every ordered pair (a, b) of each group sharing the key.
        per = g_size * g_size
        group = np.repeat(np.arange(len(g_start)), per)
        pos = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
        a = owners[g_start[group] + pos // g_size[group]]
        b = owners[g_start[group] + pos % g_size[group]]
        keep = (a != b) & (a >= h)
        srcs.append(a[keep])
        dsts.append(b[keep])
    if not srcs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([np.concatenate(srcs), np.concatenate(dsts)], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


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
