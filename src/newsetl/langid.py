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
_SPACE = 0x20
_BITS = 21  # a code point fits in 21 bits: an n-gram of up to 3 is one uint64 key
_SPACES = re.compile(" {2,}")


@dataclass(frozen=True)
class Profiles:
    """langdetect's profiles and character tables as arrays (built once per process)."""

    langs: list[str]
    matrix: np.ndarray  # n-gram row -> probability per language (float64)
    keys: tuple[np.ndarray, np.ndarray, np.ndarray]  # sorted uint64 keys of the 1-, 2- and 3-grams
    rows: tuple[np.ndarray, np.ndarray, np.ndarray]  # the matrix row of each key
    normal: np.ndarray  # BMP code point -> NGram.normalize(code point)
    upper: np.ndarray  # BMP code point -> str.isupper() (of a normalised character)
    non_latin: np.ndarray  # BMP code point -> counted as non-Latin by Detector.cleaning_text
    seed: int | None


def _key(gram: str) -> int:
    key = 0
    for ch in gram:
        key = (key << _BITS) | ord(ch)
    return key


@lru_cache(maxsize=1)
def profiles() -> Profiles:
    """Build the arrays from newsetl.language's factory (langdetect's bundled profiles, seed 0)."""
    from langdetect.utils.ngram import NGram
    from langdetect.utils.unicode_block import unicode_block

    from newsetl.language import _factory

    factory = _factory()
    wmap: dict[str, np.ndarray] = factory.word_lang_prob_map
    words = list(wmap)
    matrix = np.stack([wmap[w] for w in words])
    keys: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for n in (1, 2, 3):
        picked = [(_key(w), i) for i, w in enumerate(words) if len(w) == n]
        k = np.array([p[0] for p in picked], dtype=np.uint64)
        r = np.array([p[1] for p in picked], dtype=np.int64)
        order = np.argsort(k)
        keys.append(k[order])
        rows.append(r[order])
    bmp = [chr(cp) for cp in range(0x10000)]
    normal = np.array([ord(NGram.normalize(ch)) for ch in bmp], dtype=np.uint32)
    upper = np.array([ch.isupper() for ch in bmp], dtype=bool)
    # Detector.cleaning_text's test, as written there (its block comparison is always true).
    non_latin = np.array(
        [ch >= "\u0300" and unicode_block(ch) != "Latin Extended Additional" for ch in bmp], dtype=bool
    )
    return Profiles(
        langs=list(factory.langlist),
        matrix=matrix,
        keys=(keys[0], keys[1], keys[2]),
        rows=(rows[0], rows[1], rows[2]),
        normal=normal,
        upper=upper,
        non_latin=non_latin,
        seed=factory.seed,
    )


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _is_upper(p: Profiles, cps: np.ndarray) -> np.ndarray:
    out = p.upper[np.minimum(cps, 0xFFFF)]
    astral = cps > 0xFFFF
    if astral.any():  # rare: letters outside the BMP (Deseret, mathematical letters) ask Python
        out = out.copy()
        out[astral] = [chr(int(c)).isupper() for c in cps[astral]]
    return out


def _lookup(keys: np.ndarray, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    at = np.searchsorted(keys, query)
    at[at >= len(keys)] = 0
    return np.where(keys[at] == query, rows[at], -1)


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
    non_latin = np.where(cps > 0xFFFF, True, p.non_latin[np.minimum(cps, 0xFFFF)]) & ~latin
    if int(latin.sum()) * 2 < int(non_latin.sum()):
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
    first = np.arange(len(cur)) == 0
    r1 = np.where((cur != _SPACE) & ~capital, _lookup(p.keys[0], p.rows[0], cur), -1)
    r2 = np.where(~capital, _lookup(p.keys[1], p.rows[1], (prev << _BITS) | cur), -1)
    k3 = (prev2 << (2 * _BITS)) | (prev << _BITS) | cur
    r3 = np.where(~capital & ~space_prev & ~first, _lookup(p.keys[2], p.rows[2], k3), -1)
    rows = np.stack([r1, r2, r3], axis=1).ravel()
    return rows[rows >= 0]


def probabilities(rows: np.ndarray, rng: random.Random | None = None) -> list[tuple[str, float]]:
    """Return langdetect's get_probabilities() for the n-gram rows of one text: (language, probability)
    above 0.1, best first; [] when the text has no n-gram (langdetect raises 'No features in text')."""
    p = profiles()
    n = len(rows)
    if n == 0:
        return []
    rng = rng or random.Random()
    rng.seed(p.seed)
    nlang = len(p.langs)
    shift = 32 - n.bit_length()
    langprob = np.zeros(nlang)
    for _ in range(N_TRIAL):
        alpha = ALPHA + rng.gauss(0.0, 1.0) * ALPHA_WIDTH
        prob = _trial(p.matrix, rows, rng, alpha / BASE_FREQ, shift, n, nlang)
        langprob += prob / N_TRIAL
    order = np.argsort(-langprob, kind="stable")
    return [(p.langs[j], float(langprob[j])) for j in order if langprob[j] > PROB_THRESHOLD]


def _trial(matrix: np.ndarray, rows: np.ndarray, rng: random.Random, a: float, shift: int, n: int, nlang: int) -> Any:
    """One of langdetect's trials; returns its normalised probabilities when it stops."""
    log_prob = np.full(nlang, np.log(1.0 / nlang))
    done = 0  # draws so far (langdetect's i)
    block = 64
    while True:
        state = rng.getstate()
        words = np.frombuffer(rng.getrandbits(64 * block).to_bytes(8 * block, "little"), dtype="<u4")
        drawn = words >> shift  # getrandbits(k) is the top k bits of one word; >= n is drawn again
        accepted = np.flatnonzero(drawn < n)[: ITERATION_LIMIT + 1 - done]
        if not len(accepted):
            continue
        picks = rows[drawn[accepted].astype(np.int64)]
        running = log_prob + np.cumsum(np.log(matrix[picks] + a), axis=0)
        checks = np.arange((-done) % 5, len(accepted), 5)
        at = running[checks]
        top = at.max(axis=1)
        total = np.exp(at - top[:, None]).sum(axis=1)
        stop = (1.0 / total > CONV_THRESHOLD) | (done + checks >= ITERATION_LIMIT)
        last = checks[int(np.argmax(stop))] if stop.any() else len(accepted) - 1
        # Rewind and consume exactly the words langdetect's draws would have.
        rng.setstate(state)
        rng.getrandbits(32 * (int(accepted[last]) + 1))
        if stop.any():
            j = int(np.argmax(stop))
            return np.exp(at[j] - top[j]) / total[j]
        log_prob = running[-1]
        done += len(accepted)
        block *= 4
