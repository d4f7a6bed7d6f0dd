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

import itertools
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from hashlib import blake2b

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
GROUP_TOKENS = 1 << 20  # minhash_many's texts per group, in tokens
_BAND_MIX = np.array([0x9E3779B97F4A7C15 ^ (i * 0x100000001B3) for i in range(BANDS)], dtype=np.uint64)


def shingle_hashes(text: str, toks: list[str] | None = None) -> np.ndarray:
    """Return the distinct 32-bit hashes of the text's 5-token shingles (toks: its tokens, when known).

    Each token is hashed once (CRC-32) and the five hashes of a window are combined with a
    polynomial in numpy, instead of building and hashing every shingle string.
    """
    toks = tokens(text) if toks is None else toks
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


def minhash(text: str, toks: list[str] | None = None) -> np.ndarray:
    """Return the MinHash signature (NUM_PERM uint32 values) of a text (toks: its tokens, when known)."""
    h = shingle_hashes(text, toks)
    sig = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint64)
    for start in range(0, len(h), 4096):  # bound the (perm x shingle) matrix for very long texts
        block = h[start : start + 4096]
        vals = (_A[:, None] * block[None, :] + _B[:, None]) % _PRIME
        np.minimum(sig, vals.min(axis=1) & np.uint64(0xFFFFFFFF), out=sig)
    return sig.astype(np.uint32)


def minhash_many(token_lists: Sequence[list[str]], block: int = 4096) -> np.ndarray:
    """Return the (len(token_lists), NUM_PERM) uint32 MinHash signatures of texts given by their tokens.

    Equal to minhash(text, tokens) for each text (tested), made for a whole batch at once: every token
    hashed in one pass, every shingle of every text (of five tokens or more) mixed in one numpy pass,
    and the permutations applied to blocks of `block` shingles of many texts, reduced per text (4,096:
    the block's matrix stays in cache; 32,768 ran slower than one text at a time). A text
    of one to four tokens has one shingle of all its tokens (as minhash); one of none, no shingle.
    Texts are taken in groups of about GROUP_TOKENS tokens, so memory stays bounded (about 50 bytes a token).
    """
    n = len(token_lists)
    sizes = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=n)
    ends = np.cumsum(sizes)
    if n and ends[-1] > GROUP_TOKENS:
        cuts = np.unique(np.searchsorted(ends, np.arange(GROUP_TOKENS, int(ends[-1]), GROUP_TOKENS), side="right"))
        bounds = [0, *[int(c) for c in cuts if 0 < c < n], n]
        return np.concatenate([_minhash_group(token_lists[a:b], block) for a, b in itertools.pairwise(bounds)])
    return _minhash_group(token_lists, block)


def _minhash_group(token_lists: Sequence[list[str]], block: int) -> np.ndarray:
    """minhash_many of one group of texts."""
    n = len(token_lists)
    sig = np.full((n, NUM_PERM), np.iinfo(np.uint32).max, dtype=np.uint64)
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=n)
    short = np.flatnonzero((lengths > 0) & (lengths < SHINGLE))
    for i in short.tolist():  # a text shorter than a shingle: its one shingle of every token, as minhash
        sig[i] = minhash("", token_lists[i])
    h = np.fromiter(
        (zlib.crc32(t.encode()) for toks in token_lists for t in toks), dtype=np.uint64, count=int(lengths.sum())
    )
    # Shingle p covers tokens p .. p+4 of the flat array; a text of m >= 5 tokens starting at s has the
    # shingles s .. s+m-5, none of which runs into the next text.
    starts = np.r_[0, np.cumsum(lengths)[:-1]] if n else np.zeros(0, np.int64)
    long = np.flatnonzero(lengths >= SHINGLE)
    if not len(long):
        return sig.astype(np.uint32)
    counts = lengths[long] - SHINGLE + 1
    width = len(h) - SHINGLE + 1
    acc = np.zeros(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(SHINGLE):  # the same wrap-around polynomial as shingle_hashes
            acc = acc * _SHINGLE_MIX + h[j : j + width]
    mixed = (acc ^ (acc >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    # The shingles of the long texts, text after text, and the text each belongs to.
    owner = np.repeat(long, counts)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    pos = np.arange(int(counts.sum())) - np.repeat(first, counts) + np.repeat(starts[long], counts)
    shingles = mixed[pos]
    del acc, mixed, pos
    for lo in range(0, len(shingles), block):
        chunk = shingles[lo : lo + block]
        who = owner[lo : lo + block]
        cuts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])  # where each text's run in the block starts
        vals = _A[:, None] * chunk[None, :]  # in place from here: a block's matrix stays in cache
        vals += _B[:, None]
        np.remainder(vals, _PRIME, out=vals)
        mins = np.minimum.reduceat(vals, cuts, axis=1) & np.uint64(0xFFFFFFFF)
        rows = who[cuts]
        sig[rows] = np.minimum(sig[rows], mins.T)  # a text's rows are distinct within a block
    return sig.astype(np.uint32)


def band_keys(signature: np.ndarray) -> np.ndarray:
    """Return the BANDS int64 LSH keys of a signature (one hash per band of ROWS values)."""
    return _band_keys_of(np.asarray(signature).reshape(1, NUM_PERM))[0]


def _band_keys_of(sigs: np.ndarray) -> np.ndarray:
    """Return the band keys of every row of an (n, NUM_PERM) signature array, as an (n, BANDS) int64 array."""
    rows = sigs.astype(np.uint64).reshape(len(sigs), BANDS, ROWS)
    key = np.broadcast_to(_BAND_MIX, (len(sigs), BANDS)).copy()
    with np.errstate(over="ignore"):
        for j in range(ROWS):  # FNV-style mix; wrap-around is intended
            key = (key ^ rows[:, :, j]) * np.uint64(0x100000001B3)
    return key.view(np.int64)


def fingerprint_texts(texts: Sequence[str]) -> tuple[list[list[int]], list[list[int]]]:
    """Return (signatures, band keys) as Python lists, one entry per text."""
    cols = fingerprint_columns(minhash_many([tokens(t) for t in texts]))
    return cols["signature"].to_pylist(), cols["bands"].to_pylist()


def fingerprint_columns(signatures: Sequence[np.ndarray] | np.ndarray) -> dict[str, pa.Array]:
    """Return the `signature` and `bands` columns (schema STAGED) of MinHash signatures (a (n, NUM_PERM) array
    or a list of signatures), built from numpy."""
    n = len(signatures)
    sigs = np.asarray(signatures, dtype=np.uint32).reshape(n, NUM_PERM) if n else np.zeros((0, NUM_PERM), np.uint32)
    bands = _band_keys_of(sigs)
    return {
        "signature": pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32) * NUM_PERM), sigs.ravel()),
        "bands": pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32) * BANDS), bands.ravel()),
    }


@dataclass
class Keys:
    """The dedup keys of records in numpy, with no Python object per record.

    hash: (n, 2) uint64, a 128-bit BLAKE2 digest of each text hash (16 bytes where the hex string took 64
    and a dictionary of every string as much again; two different text hashes share a digest with
    probability about n**2 / 2**129). published: microseconds, 0 when undated; undated; ingest: the
    order a record was read in (0 for history); bands: (BANDS, n) int64, one contiguous row per band.
    """

    hash: np.ndarray
    published: np.ndarray
    undated: np.ndarray
    ingest: np.ndarray
    bands: np.ndarray

    def __len__(self) -> int:
        return len(self.published)

    @classmethod
    def empty(cls, n: int) -> Keys:
        """Keys of n records, to be filled with `put`."""
        return cls(
            np.zeros((n, 2), np.uint64),
            np.zeros(n, np.int64),
            np.zeros(n, bool),
            np.zeros(n, np.int64),
            np.zeros((BANDS, n), np.int64),
        )

    @classmethod
    def of(cls, table: pa.Table) -> Keys:
        """The keys of a table with text_hash and bands (published_at and ingest_order when it has them)."""
        keys = cls.empty(table.num_rows)
        keys.put(0, table)
        return keys

    def put(self, start: int, table: pa.Table) -> None:
        """Fill rows start .. start + len(table) from a table's columns (a part at a time: no whole-run copy)."""
        stop = start + table.num_rows
        self.hash[start:stop] = digests(table.column("text_hash"))
        if "published_at" in table.column_names:
            pub = _flat(table.column("published_at"), pa.timestamp("us", tz="UTC")).cast(pa.int64())
            self.published[start:stop] = pub.fill_null(0).to_numpy(zero_copy_only=False)
            self.undated[start:stop] = pc.is_null(pub).to_numpy(zero_copy_only=False)
        else:
            self.undated[start:stop] = True
        if "ingest_order" in table.column_names:
            ingest = _flat(table.column("ingest_order"), pa.int64()).fill_null(0)
            self.ingest[start:stop] = ingest.to_numpy(zero_copy_only=False)
        self.bands[:, start:stop] = _matrix(table.column("bands"), np.int64, BANDS).T

    def order(self) -> np.ndarray:
        """Row indices in the order records are taken: earliest published first, undated after dated,
        ties by ingest order, then by row."""
        return np.lexsort((self.ingest, self.published, self.undated)).astype(np.int64)


def digests(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Return the (n, 2) uint64 128-bit BLAKE2b digests of a string column (null as the empty string)."""
    out = b"".join(blake2b((s or "").encode(), digest_size=16).digest() for s in column.to_pylist())
    return np.frombuffer(out, dtype=np.uint64).reshape(-1, 2) if out else np.zeros((0, 2), np.uint64)


@dataclass
class Decisions:
    """What `decide` found for each run record: status (_KEPT, _EXACT, _NEAR), dup_of (the slot copied:
    < h a history row, else h + a run row), similarity (NaN when kept); h: the number of history rows."""

    status: np.ndarray
    dup_of: np.ndarray
    sim: np.ndarray
    h: int

    @cached_property
    def referenced(self) -> np.ndarray:
        """The run rows (sorted, distinct) that other run records are copies of."""
        slots = self.dup_of[(self.status != _KEPT) & (self.dup_of >= self.h)]
        return np.unique(slots) - self.h

    def names(self, history_ids: pa.Array, referenced_ids: pa.Array) -> pa.Array:
        """Every id a decision can name, in slot order: the history rows', then those of `referenced`."""
        return pa.concat_arrays([_flat(history_ids, pa.string()), _flat(referenced_ids, pa.string())])

    def table(self, start: int, ids: pa.Array | pa.ChunkedArray, names: pa.Array) -> pa.Table:
        """DECISIONS rows of run rows start .. start + len(ids): ids are theirs, names from `names`."""
        stop = start + len(ids)
        status, dup_of, sim = self.status[start:stop], self.dup_of[start:stop], self.sim[start:stop]
        copy = status != _KEPT
        where = np.where(dup_of < self.h, dup_of, self.h + np.searchsorted(self.referenced, dup_of - self.h))
        return pa.Table.from_arrays(
            [
                _flat(ids, pa.string()),
                pc.take(pa.array(_STATUS, pa.string()), pa.array(status)),
                pc.take(names, pa.array(np.where(copy, where, 0), mask=~copy))
                if len(names)
                else pa.nulls(len(ids), pa.string()),
                pa.array(sim, pa.float64(), mask=np.isnan(sim)),
            ],
            schema=DECISIONS,
        )


def find_duplicates(
    run: pa.Table,
    history: pa.Table,
    threshold: float = 0.7,
    signatures: Callable[[np.ndarray], np.ndarray] | None = None,
) -> pa.Table:
    """Return a DECISIONS row per record of `run`: kept, or an exact/near duplicate of another article.

    run: record_id, text_hash, published_at, ingest_order, bands, and signature unless `signatures` is
    given (see `decide`). history: article_id, text_hash, published_at, signature, bands.
    """
    if signatures is None:
        run_sigs = _matrix(run.column("signature"), np.uint32, NUM_PERM)

        def signatures(rows: np.ndarray) -> np.ndarray:
            return run_sigs[rows]

    found = decide(
        Keys.of(run), Keys.of(history), _matrix(history.column("signature"), np.uint32, NUM_PERM), threshold, signatures
    )
    ids = _flat(run.column("record_id"), pa.string())
    return found.table(0, ids, found.names(history.column("article_id"), ids.take(pa.array(found.referenced))))


def decide(
    run: Keys,
    history: Keys,
    history_signatures: np.ndarray,
    threshold: float,
    signatures: Callable[[np.ndarray], np.ndarray],
) -> Decisions:
    """Decide for each run record: kept, or an exact/near duplicate of a history row or another run record.

    signatures(rows) returns the (len(rows), NUM_PERM) signatures of those run rows; only rows that share a
    band key with another are asked for. Loaded articles (history) are never displaced: a copy in the run
    of a loaded article is the duplicate, whatever its date. Within the run the earliest published copy is
    kept (ties: first ingested; undated after dated).

    Only records with LSH neighbours go through the one loop that must be sequential (a record can only
    copy an article kept before it).
    """
    n, h = len(run), len(history)
    # Slots 0..h-1 are history articles, h..h+n-1 this run's records; rank: the order they are taken in.
    rank = np.empty(h + n, dtype=np.int64)
    rank[history.order()] = np.arange(h)
    rank[h + run.order()] = h + np.arange(n)

    # Exact: the first slot (by rank) with a text hash keeps it; the others copy that slot.
    both = np.concatenate([history.hash, run.hash])
    by = np.lexsort((rank, both[:, 1], both[:, 0]))
    starts = np.r_[True, (both[by][1:] != both[by][:-1]).any(axis=1)] if len(by) else np.zeros(0, bool)
    group = np.cumsum(starts) - 1  # group of each sorted slot; the group's first slot keeps the hash
    first = by[starts]
    keeper = np.empty(h + n, np.int64)
    keeper[by] = first[group]
    del both, by, starts, group, first
    dup_of = keeper[h:]
    status = np.where(dup_of != h + np.arange(n), _EXACT, _KEPT).astype(np.int8)
    sim = np.where(status == _EXACT, 1.0, np.nan)

    # Near: slots sharing a band key (history, and run records that are not exact copies) are neighbours.
    slots = np.r_[np.arange(h), h + np.flatnonzero(status == _KEPT)].astype(np.int64)
    src, dst = _band_pairs(history.bands, run.bands, h, slots)
    if len(src):
        involved = np.unique(np.r_[src, dst])
        sigs = np.zeros((len(involved), NUM_PERM), dtype=np.uint32)
        in_run = involved >= h
        sigs[~in_run] = history_signatures[involved[~in_run]]
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
        # An exact copy of a run record that turned out to be a near copy is a near copy of what that
        # record copies (it has the same text): a copy always names a kept article, never another copy.
        copies = np.flatnonzero((status == _EXACT) & (dup_of >= h))
        source = dup_of[copies] - h
        moved = status[source] == _NEAR
        copies, source = copies[moved], source[moved]
        status[copies], dup_of[copies], sim[copies] = _NEAR, dup_of[source], sim[source]
    return Decisions(status, dup_of, sim, h)


_STATUS = ["kept", "exact", "near"]
_KEPT, _EXACT, _NEAR = 0, 1, 2


_BANDS = pa.list_(pa.int64())


def _flat(column: pa.ChunkedArray | pa.Array, type: pa.DataType | None = None) -> pa.Array:
    """One array of a column (an empty table's columns may be typed null: cast to `type`)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column.cast(type) if type is not None and column.type != type else column


def _band_pairs(h_bands: np.ndarray, r_bands: np.ndarray, h: int, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (src, dst): every pair of distinct `slots` sharing a key in the same band, src a run slot
    (>= h), sorted by src then dst, each pair once. Bands: (BANDS, rows) of history (slots < h) and of
    the run (slot - h).

    Band by band: one band's keys of 1,000,000 records are 8 MB, where sorting all bands at once held
    several (records x BANDS) arrays.
    """
    in_h = slots < h
    srcs, dsts = [], []
    for band in range(BANDS):
        keys = np.empty(len(slots), dtype=np.int64)
        keys[in_h] = h_bands[band][slots[in_h]]
        keys[~in_h] = r_bands[band][slots[~in_h] - h]
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


def history_candidates(run: Keys, history: pa.Table) -> np.ndarray:
    """Return the indices of `history` rows (text_hash, bands) that share a text hash, or a band key in the
    same band, with a record of `run`: the only history rows `decide` can match."""
    if len(run) == 0 or history.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    hit = _in(_binary(digests(history.column("text_hash"))), _binary(run.hash))
    h_bands = _matrix(history.column("bands"), np.int64, BANDS)
    for b in range(BANDS):
        hit |= _in(pa.array(h_bands[:, b]), pa.array(run.bands[b]))
    return np.flatnonzero(hit)


def _in(values: pa.Array, value_set: pa.Array) -> np.ndarray:
    return pc.is_in(values, value_set=value_set).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def _binary(digest: np.ndarray) -> pa.Array:
    """The (n, 2) uint64 digests as an Arrow fixed_size_binary(16) array over the same memory."""
    digest = np.ascontiguousarray(digest)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(digest), [None, pa.py_buffer(digest)])


def _matrix(column: pa.ChunkedArray, dtype: type, width: int) -> np.ndarray:
    """Return a list<int> column of fixed-length lists as an (n, width) array, without Python lists."""
    if len(column) == 0:
        return np.zeros((0, width), dtype=dtype)
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return flat.astype(dtype, copy=False).reshape(len(column), width)
