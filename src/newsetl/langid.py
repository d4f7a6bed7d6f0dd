"""langdetect's detection, done over arrays: the same answer as stock langdetect at a fraction of its cost.

Why not call langdetect itself: stock langdetect 1.0.9 walks the text one character at a time in Python
(normalise, build n-grams, look them up) and then updates 55 probabilities per sampled n-gram in Python
lists, about 10 ms per news article. Language was the pipeline's slowest stage. This module computes the
same thing with numpy:

- the text is cut, cleaned and normalised as langdetect does (the same regular expressions, then the
  character normalisation of `NGram.normalize` as a table over the Basic Multilingual Plane);
- the n-grams are the same, in the same order (the rules of `NGram.add_char` and `_extract_ngrams`
  as array masks, looked up in sorted arrays of the profiles' n-grams);
- the seeded random sampling is langdetect's own: the same `random.Random` seeded the same way gives
  each trial's alpha (`gauss`) and its n-gram draws (`choice` is `getrandbits` with rejection, which is
  done here on a block of the generator's 32-bit words; the generator is rewound to consume exactly the
  words langdetect would have);
- each trial's running product of `alpha / BASE_FREQ + p(ngram)` is a cumulative sum of logarithms, with
  langdetect's convergence test at every fifth draw.

The result is the list of (language, probability) langdetect's `get_probabilities` returns. The
probabilities agree with stock langdetect's to about 1e-12 (logarithms instead of products);
tests/test_langid.py checks the answers against stock langdetect on generated text of every script.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

N_TRIAL = 7
ALPHA = 0.5
ALPHA_WIDTH = 0.05
ITERATION_LIMIT = 1000
PROB_THRESHOLD = 0.1
CONV_THRESHOLD = 0.99999
BASE_FREQ = 10000
GROUP = 128  # texts detected together (bounds the (texts, draws, languages) arrays: +18 MB a process)
FIRST_BLOCK = 16  # draws a text's trial looks at in its first round
MAX_BLOCK = 256  # and at most in a round
SEED = 0  # langdetect samples at random: a fixed seed makes every run give the same answer
_SPACE = 0x20
_BITS = 21  # a code point fits in 21 bits: an n-gram of up to 3 is one uint64 key
_SPACES = re.compile(" {2,}")


@dataclass(frozen=True)
class Profiles:
    """langdetect's profiles and character tables as arrays (built once per process)."""

    langs: list[str]
    matrix: np.ndarray  # n-gram row -> probability per language (float64)
    grams: _HashTable  # n-gram key (its code points, 21 bits each) -> matrix row
    normal: np.ndarray  # BMP code point -> NGram.normalize(code point)
    upper: np.ndarray  # BMP code point -> str.isupper() (of a normalised character)


def _key(gram: str) -> int:
    key = 0
    for ch in gram:
        key = (key << _BITS) | ord(ch)
    return key


@lru_cache(maxsize=1)
def profiles() -> Profiles:
    """Build the arrays from langdetect's bundled profiles (newsetl.language.profile_matrix)."""
    from langdetect.utils.ngram import NGram

    from newsetl.language import profile_matrix

    pm = profile_matrix()
    # 1-gram keys are below 2**21 and 2-gram keys below 2**42 <= 3-gram keys (no character is below U+0020
    # after normalisation): one table holds all three.
    keys = np.fromiter((_key(w) for w in pm.index), dtype=np.uint64, count=len(pm.index))
    bmp = [chr(cp) for cp in range(0x10000)]
    return Profiles(
        langs=pm.langs,
        matrix=pm.matrix,
        grams=_HashTable(keys, np.fromiter(pm.index.values(), dtype=np.int64, count=len(pm.index))),
        normal=np.array([ord(NGram.normalize(ch)) for ch in bmp], dtype=np.uint32),
        upper=np.array([ch.isupper() for ch in bmp], dtype=bool),
    )


class _HashTable:
    """uint64 keys -> int64 values, open addressing with linear probing, looked up for a whole array at once
    (a sorted-array search cost more than the rest of the n-gram extraction)."""

    _EMPTY = np.uint64(2**64 - 1)
    _MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * 2**64/phi

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        bits = max(4, int(np.ceil(np.log2(max(1, len(keys)) * 3))))  # at most a third full
        self._shift, self._mask = np.uint64(64 - bits), (1 << bits) - 1
        self.keys = np.full(1 << bits, self._EMPTY, dtype=np.uint64)
        self.values = np.full(1 << bits, -1, dtype=np.int64)
        slot = self._slot(keys)
        pending = np.arange(len(keys))
        while len(pending):
            free = self.keys[slot[pending]] == self._EMPTY
            taken, first = np.unique(slot[pending[free]], return_index=True)  # one key per free slot
            winners = pending[free][first]
            self.keys[taken], self.values[taken] = keys[winners], values[winners]
            pending = np.setdiff1d(pending, winners, assume_unique=True)
            slot[pending] = (slot[pending] + 1) & self._mask

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys * self._MIX) >> self._shift).astype(np.int64)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key, -1 where a key is absent."""
        out = np.full(len(keys), -1, dtype=np.int64)
        slot = self._slot(keys)
        pending = np.arange(len(keys))
        while len(pending):
            found = self.keys[slot]
            hit = found == keys
            out[pending[hit]] = self.values[slot[hit]]
            more = ~hit & (found != self._EMPTY)
            pending, keys, slot = pending[more], keys[more], (slot[more] + 1) & self._mask
        return out


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _is_upper(p: Profiles, cps: np.ndarray) -> np.ndarray:
    out = p.upper[np.minimum(cps, 0xFFFF)]
    astral = cps > 0xFFFF
    if astral.any():  # rare: letters outside the BMP (Deseret, mathematical letters) ask Python
        out = out.copy()
        out[astral] = [chr(int(c)).isupper() for c in cps[astral]]
    return out


def ngram_rows(text: str, max_text_length: int = 10000) -> np.ndarray:
    """Return the profile rows of the n-grams langdetect extracts from `text`, in its order."""
    return ngram_rows_many([text], max_text_length)[0]


def ngram_rows_many(texts: Sequence[str], max_text_length: int = 10000) -> list[np.ndarray]:
    """Return the profile rows of the n-grams langdetect extracts from each text, in its order.

    The same steps as Detector.append (URL and e-mail removal, Vietnamese normalisation, cut at
    max_text_length, runs of spaces collapsed), Detector.cleaning_text and Detector._extract_ngrams.
    The texts' code points are worked on end to end, each text after a space of its own (langdetect's
    leading space), so that a group of texts costs a few array operations.
    """
    from langdetect.detector import Detector
    from langdetect.utils.ngram import NGram

    if not texts:
        return []
    p = profiles()
    cut = []
    for text in texts:
        text = Detector.URL_RE.sub(" ", text)
        text = Detector.MAIL_RE.sub(" ", text)
        text = NGram.normalize_vi(text)
        cut.append(_SPACES.sub(" ", text[:max_text_length]))
    cps = _codepoints("".join(cut))
    owner = np.repeat(np.arange(len(cut)), [len(t) for t in cut])  # the text of each code point
    # cleaning_text: text mostly in another alphabet loses its Latin letters (A..z).
    latin = (cps >= 0x41) & (cps <= 0x7A)
    # Detector.cleaning_text counts as non-Latin `ch >= '\u0300' and unicode_block(ch) != 'Latin Extended
    # Additional'`; unicode_block returns a number, so the second test always holds.
    latins = np.bincount(owner, weights=latin, minlength=len(cut))
    others = np.bincount(owner, weights=cps >= 0x300, minlength=len(cut))
    keep = ~(latin & (latins * 2 < others)[owner])
    cps, owner = cps[keep], owner[keep]
    # NGram.normalize per character; each text starts with a space (a separator that is never dropped),
    # and a space after a space adds nothing (NGram.add_char).
    norm = np.where(cps > 0xFFFF, cps, p.normal[np.minimum(cps, 0xFFFF)])
    starts = np.searchsorted(owner, np.arange(len(cut)))
    c = np.insert(norm, starts, _SPACE).astype(np.uint64)
    sep = np.zeros(len(c), dtype=bool)
    sep[starts + np.arange(len(cut))] = True
    text_of = np.insert(owner, starts, np.arange(len(cut)))
    space = c == _SPACE
    dropped = space & np.concatenate(([False], space[:-1])) & ~sep
    c, sep, text_of = c[~dropped], sep[~dropped], text_of[~dropped]
    up = _is_upper(p, c)
    at = np.flatnonzero(~sep)  # every character after its text's leading space
    cur, prev = c[at], c[at - 1]
    prev2 = c[np.maximum(at - 2, 0)]  # a text's first character has no 3-gram (space_prev, below)
    capital = up[at] & up[at - 1]  # inside a word in capitals: langdetect skips the position
    space_prev = prev == _SPACE
    k2 = (prev << _BITS) | cur
    k3 = (prev2 << (2 * _BITS)) | k2
    r1, r2, r3 = np.split(p.grams.get(np.concatenate([cur, k2, k3])), 3)
    r1 = np.where((cur != _SPACE) & ~capital, r1, -1)
    r2 = np.where(~capital, r2, -1)
    r3 = np.where(~capital & ~space_prev, r3, -1)  # a first character follows the leading space
    rows = np.stack([r1, r2, r3], axis=1).ravel()
    whose = np.repeat(text_of[at], 3)
    found = rows >= 0
    rows, whose = rows[found], whose[found]
    return np.split(rows, np.cumsum(np.bincount(whose, minlength=len(cut)))[:-1])


def detect(text: str, max_text_length: int = 10000) -> list[tuple[str, float]]:
    """Return stock langdetect's get_probabilities() for `text`: (language, probability) above 0.1, best
    first; [] when the text has no n-gram (langdetect raises 'No features in text')."""
    return detect_many([text], max_text_length)[0]


def detect_many(texts: Sequence[str], max_text_length: int = 10000) -> list[list[tuple[str, float]]]:
    """`detect` for each of `texts`: the trials of many texts run together, a few array operations each."""
    if not _stream().emulated:  # this Python's random module draws differently: ask langdetect itself
        return [_stock(t, max_text_length) for t in texts]
    out: list[list[tuple[str, float]]] = []
    for lo in range(0, len(texts), GROUP):  # a group's n-grams at a time: a part's would be tens of MB
        out.extend(probabilities_many(ngram_rows_many(texts[lo : lo + GROUP], max_text_length)))
    return out


def probabilities(rows: np.ndarray) -> list[tuple[str, float]]:
    """Return langdetect's probabilities for the n-gram rows of one text (see `detect`)."""
    return probabilities_many([rows])[0]


def probabilities_many(rows: Sequence[np.ndarray]) -> list[list[tuple[str, float]]]:
    """Return langdetect's probabilities for the n-gram rows of each text (one group: see `detect_many`).

    Every detection reads the same seeded stream from its start, so the texts' trials run side by side:
    each text has its own position in the stream, alpha and draws, and one array operation serves them
    all (one text at a time, the Python and numpy call overhead of its seven trials cost more than the
    arithmetic).
    """
    p = profiles()
    out: list[list[tuple[str, float]]] = [[] for _ in rows]
    live = [i for i, r in enumerate(rows) if len(r)]
    if live:
        for i, lp in zip(live, _detect_group(p, [rows[i] for i in live]), strict=True):
            order = np.argsort(-lp, kind="stable")
            out[i] = [(p.langs[j], float(lp[j])) for j in order if lp[j] > PROB_THRESHOLD]
    return out


def _detect_group(p: Profiles, rows: list[np.ndarray]) -> np.ndarray:
    """langdetect's averaged trial probabilities, (texts, languages), for texts with at least one n-gram."""
    stream = _stream()
    n = np.array([len(r) for r in rows], dtype=np.int64)
    texts = _Texts(
        rows=np.concatenate(rows),
        start=np.concatenate(([0], np.cumsum(n)[:-1])),
        n=n,
        shift=np.array([32 - int(k).bit_length() for k in n], dtype=np.uint32),
    )
    at = np.zeros(len(rows), dtype=np.int64)  # each text's position in the seeded stream
    langprob = np.zeros((len(rows), len(p.langs)))
    spare = np.zeros(len(rows))  # gauss's second value, kept for the next trial
    for trial in range(N_TRIAL):
        if trial % 2 == 0:  # random.gauss draws a pair and returns its first value
            pairs = [stream.gauss_pair(int(a)) for a in at]
            z = np.array([g[0] for g in pairs])
            spare = np.array([g[1] for g in pairs])
            at += 4
        else:
            z = spare
        alpha = ALPHA + z * ALPHA_WIDTH
        prob, at = _trials(p.matrix, texts, stream, at, alpha / BASE_FREQ)
        langprob += prob / N_TRIAL
    return langprob


@dataclass(frozen=True)
class _Texts:
    """The n-gram rows of a group of texts, end to end: text i has rows[start[i] : start[i] + n[i]]."""

    rows: np.ndarray
    start: np.ndarray
    n: np.ndarray
    shift: np.ndarray  # random.choice over n items keeps the top n.bit_length() bits of a word


class _Stream:
    """The 32-bit words random.Random(SEED) produces, in order: every detection starts from the same seed,
    so they are generated once per process and each detection reads them from the start."""

    def __init__(self) -> None:
        self._rng = random.Random(SEED)
        self.words = np.empty(0, dtype=np.uint32)
        self.extend(1 << 15)
        self.emulated = self._check()

    def extend(self, count: int) -> None:
        more = np.frombuffer(self._rng.getrandbits(32 * count).to_bytes(4 * count, "little"), dtype="<u4")
        self.words = np.concatenate([self.words, more])

    def take(self, at: int, count: int) -> np.ndarray:
        while at + count > len(self.words):
            self.extend(len(self.words))
        return self.words[at : at + count]

    def _random(self, at: int) -> float:
        # random.random(): 53 bits from two words (a >> 5, b >> 6), as CPython's _random does.
        a, b = (int(w) for w in self.take(at, 2))
        return ((a >> 5) * 67108864.0 + (b >> 6)) * (1.0 / 9007199254740992.0)

    def gauss_pair(self, at: int) -> tuple[float, float]:
        """random.gauss's two values from the 4 words at `at` (it returns the first, keeps the second)."""
        x2pi = self._random(at) * 2.0 * math.pi
        g2rad = math.sqrt(-2.0 * math.log(1.0 - self._random(at + 2)))
        return math.cos(x2pi) * g2rad, math.sin(x2pi) * g2rad

    def choices(self, at: int, n: int, count: int) -> tuple[list[int], int]:
        """random.choice over n items, `count` times from `at`: the indices and the position after."""
        shift = 32 - n.bit_length()
        out: list[int] = []
        while len(out) < count:
            r = int(self.take(at, 1)[0]) >> shift
            at += 1
            if r < n:
                out.append(r)
        return out, at

    def _check(self) -> bool:
        """Whether this reading of the words gives what random.Random itself gives (gauss, then choice)."""
        real = random.Random(SEED)
        at, spare = 0, None
        for n in (1, 2, 3, 5, 55, 1000, 2389, 70001):
            if spare is None:
                z, spare = self.gauss_pair(at)
                at += 4
            else:
                z, spare = spare, None
            if real.gauss(0.0, 1.0) != z:
                return False
            mine, at = self.choices(at, n, 40)
            if [real.choice(range(n)) for _ in range(40)] != mine:
                return False
        return True


@lru_cache(maxsize=1)
def _stream() -> _Stream:
    return _Stream()


@lru_cache(maxsize=1)
def _stock_factory() -> Any:
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(SEED)
    return factory


def _stock(text: str, max_text_length: int) -> list[tuple[str, float]]:
    from langdetect.lang_detect_exception import LangDetectException

    d = _stock_factory().create()
    d.set_max_text_length(max_text_length)
    d.append(text)
    try:
        return [(x.lang, float(x.prob)) for x in d.get_probabilities()]
    except LangDetectException:
        return []


def _trials(
    matrix: np.ndarray, texts: _Texts, stream: _Stream, at: np.ndarray, a: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One of langdetect's trials for every text, each from its own word `at` of the stream: the normalised
    probabilities where each stops, and the position of each one's next unread word.

    A round looks at the next 2 * block words of every text still running: a word is a draw (the top bits
    of a word; a value >= n is drawn again). langdetect checks convergence after draw 0 and every fifth
    draw after it, so the draws are summed (as logarithms) in groups that end at a check, a text's first
    group padded with four empty draws, and a round uses whole groups only. What a text's trial gives does
    not depend on the block: its position moves past the draws it used only.
    """
    count, nlang = len(at), matrix.shape[1]
    log_prob = np.full((count, nlang), np.log(1.0 / nlang))
    done = np.zeros(count, dtype=np.int64)  # draws so far (langdetect's i): 0, or 1 past a check
    at = at.copy()
    result = np.empty((count, nlang))
    running = np.arange(count)
    block = FIRST_BLOCK
    while len(running):
        width = 2 * block
        words = stream.take(0, int(at[running].max()) + width)
        drawn = words[at[running][:, None] + np.arange(width)] >> texts.shift[running][:, None]
        ok = drawn < texts.n[running][:, None]
        ok &= np.cumsum(ok, axis=1) <= np.minimum(block, ITERATION_LIMIT + 1 - done[running])[:, None]
        took = ok.sum(axis=1)  # draws available this round, per text
        where = np.argsort(~ok, axis=1, kind="stable")  # the words drawn, in order
        pad = np.where(done[running] == 0, 4, 0)
        groups = -(-(int(took.max()) + 4) // 5)
        j = np.arange(5 * groups)[None, :] - pad[:, None]  # draw index at each padded place
        real = (j >= 0) & (j < took[:, None])
        picked = np.take_along_axis(drawn, np.take_along_axis(where, np.clip(j, 0, width - 1), axis=1), axis=1)
        grams = texts.rows[texts.start[running][:, None] + np.where(real, picked, 0).astype(np.int64)]
        logs = matrix[grams]  # (texts, draws, languages): one array, worked on in place
        logs += a[running][:, None, None]
        np.log(logs, out=logs)
        logs[~real] = 0.0
        # Each group's sum, then the running sums at the checks (no BLAS: its threads fight the other
        # workers for cores).
        sums = log_prob[running][:, None, :] + np.cumsum(
            logs.reshape(len(running), groups, 5, nlang).sum(axis=2), axis=1
        )
        last = 5 * np.arange(groups)[None, :] + 4 - pad[:, None]  # each group's last draw
        whole = last < took[:, None]
        step = done[running][:, None] + last
        rows_at, cols_at = np.nonzero(whole)
        at_checks = sums[rows_at, cols_at]
        top = at_checks.max(axis=1)
        total = np.exp(at_checks - top[:, None]).sum(axis=1)
        stop = (1.0 / total > CONV_THRESHOLD) | (step[rows_at, cols_at] >= ITERATION_LIMIT)
        first, which = np.unique(rows_at[stop], return_index=True)  # each stopping text's first stop
        hit = np.flatnonzero(stop)[which]
        ended = running[first]
        result[ended] = np.exp(at_checks[hit] - top[hit, None]) / total[hit, None]
        at[ended] += where[first, last[first, cols_at[hit]]] + 1
        go = np.ones(len(running), dtype=bool)
        go[first] = False
        used = whole.sum(axis=1)  # whole groups, used by a text that goes on
        r = np.flatnonzero(go & (used > 0))
        end = last[r, used[r] - 1]
        at[running[r]] += where[r, end] + 1
        log_prob[running[r]] = sums[r, used[r] - 1]
        done[running[r]] += end + 1
        if block == MAX_BLOCK and (go & (used == 0) & (took > 0)).any():  # never seen: 5 draws in 512 words
            raise RuntimeError("langdetect emulation made no progress")
        idle = np.flatnonzero(go & (took == 0))
        at[running[idle]] += width  # every word was drawn again
        running = running[go]
        block = min(4 * block, MAX_BLOCK)
    return result, at
