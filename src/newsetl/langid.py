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
    """Return the profile rows of the n-grams langdetect extracts from `text`, in its order.

    The same steps as Detector.append (URL and e-mail removal, Vietnamese normalisation, cut at
    max_text_length, runs of spaces collapsed), Detector.cleaning_text and Detector._extract_ngrams.
    """
    from langdetect.detector import Detector
    from langdetect.utils.ngram import NGram

    p = profiles()
    text = Detector.URL_RE.sub(" ", text)
    text = Detector.MAIL_RE.sub(" ", text)
    text = NGram.normalize_vi(text)
    text = _SPACES.sub(" ", text[:max_text_length])
    cps = _codepoints(text)
    if not len(cps):
        return np.empty(0, dtype=np.int64)
    # cleaning_text: text mostly in another alphabet loses its Latin letters (A..z).
    latin = (cps >= 0x41) & (cps <= 0x7A)
    # Detector.cleaning_text counts as non-Latin `ch >= '\u0300' and unicode_block(ch) != 'Latin Extended
    # Additional'`; unicode_block returns a number, so the second test always holds.
    if int(latin.sum()) * 2 < int((cps >= 0x300).sum()):
        cps = cps[~latin]
    # NGram.normalize per character, then a space after a space adds nothing (NGram.add_char).
    norm = np.where(cps > 0xFFFF, cps, p.normal[np.minimum(cps, 0xFFFF)])
    prev_norm = np.concatenate(([_SPACE], norm[:-1]))
    c = np.concatenate(([_SPACE], norm[~((norm == _SPACE) & (prev_norm == _SPACE))])).astype(np.uint64)
    if len(c) < 2:
        return np.empty(0, dtype=np.int64)
    up = _is_upper(p, c)
    cur, prev = c[1:], c[:-1]
    prev2 = np.concatenate(([0], c[:-2])).astype(np.uint64)
    capital = up[1:] & up[:-1]  # inside a word in capitals: langdetect skips the position
    space_prev = prev == _SPACE
    k2 = (prev << _BITS) | cur
    k3 = (prev2 << (2 * _BITS)) | k2
    r1, r2, r3 = np.split(p.grams.get(np.concatenate([cur, k2, k3])), 3)
    r1 = np.where((cur != _SPACE) & ~capital, r1, -1)
    r2 = np.where(~capital, r2, -1)
    r3 = np.where(~capital & ~space_prev, r3, -1)  # position 0 follows the leading space
    rows = np.stack([r1, r2, r3], axis=1).ravel()
    return rows[rows >= 0]


def detect(text: str, max_text_length: int = 10000) -> list[tuple[str, float]]:
    """Return stock langdetect's get_probabilities() for `text`: (language, probability) above 0.1, best
    first; [] when the text has no n-gram (langdetect raises 'No features in text')."""
    if not _stream().emulated:  # this Python's random module draws differently: ask langdetect itself
        return _stock(text, max_text_length)
    return probabilities(ngram_rows(text, max_text_length))


def probabilities(rows: np.ndarray) -> list[tuple[str, float]]:
    """Return langdetect's probabilities for the n-gram rows of one text (see `detect`)."""
    p = profiles()
    n = len(rows)
    if n == 0:
        return []
    stream = _stream()
    nlang = len(p.langs)
    shift = 32 - n.bit_length()
    langprob = np.zeros(nlang)
    at, spare = 0, None  # position in the seeded stream; gauss's second value, kept for the next call
    for _ in range(N_TRIAL):
        if spare is None:
            z, spare = stream.gauss_pair(at)
            at += 4
        else:
            z, spare = spare, None
        alpha = ALPHA + z * ALPHA_WIDTH
        prob, at = _trial(p.matrix, rows, stream, at, alpha / BASE_FREQ, shift, n, nlang)
        langprob += prob / N_TRIAL
    order = np.argsort(-langprob, kind="stable")
    return [(p.langs[j], float(langprob[j])) for j in order if langprob[j] > PROB_THRESHOLD]


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


def _trial(
    matrix: np.ndarray, rows: np.ndarray, stream: _Stream, at: int, a: float, shift: int, n: int, nlang: int
) -> tuple[np.ndarray, int]:
    """One of langdetect's trials from word `at` of the stream: its normalised probabilities when it stops,
    and the position of the next unread word."""
    log_prob = np.full(nlang, np.log(1.0 / nlang))
    done = 0  # draws so far (langdetect's i)
    block = 64
    while True:
        drawn = stream.take(at, 2 * block) >> shift  # choice: the top k bits of a word; >= n is drawn again
        accepted = np.flatnonzero(drawn < n)[: min(block, ITERATION_LIMIT + 1 - done)]
        if not len(accepted):
            at += 2 * block
            continue
        logs = np.log(matrix[rows[drawn[accepted].astype(np.int64)]] + a)
        # The running sums at langdetect's convergence checks (every fifth draw): the sums of the draws
        # between checks, then their running sum (no BLAS: its threads fight the other workers for cores).
        checks, starts = _checkpoints(len(accepted), (-done) % 5)
        if not len(checks):
            at += int(accepted[-1]) + 1
            log_prob = log_prob + logs.sum(axis=0)
            done += len(accepted)
            continue
        at_checks = log_prob + np.cumsum(np.add.reduceat(logs[: checks[-1] + 1], starts, axis=0), axis=0)
        top = at_checks.max(axis=1)
        total = np.exp(at_checks - top[:, None]).sum(axis=1)
        stop = (1.0 / total > CONV_THRESHOLD) | (done + checks >= ITERATION_LIMIT)
        if stop.any():
            j = int(np.argmax(stop))
            return np.exp(at_checks[j] - top[j]) / total[j], at + int(accepted[checks[j]]) + 1
        at += int(accepted[-1]) + 1
        log_prob = log_prob + logs.sum(axis=0)
        done += len(accepted)
        block *= 4


@lru_cache(maxsize=256)
def _checkpoints(count: int, first: int) -> tuple[np.ndarray, np.ndarray]:
    """The draw indices (of `count`) where langdetect checks convergence, from `first` every fifth, and
    where the draws summed up to each check start."""
    checks = np.arange(first, count, 5)
    return checks, np.concatenate(([0], checks[:-1] + 1)).astype(np.intp)
