"""Language: detect each article's language with langdetect (fixed seed), or fall back to the feed's."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyarrow as pa

from newsetl.schema import with_columns

UNDETERMINED = "und"
# Below this top probability langdetect "cannot decide" and a language given by the feed wins.
MIN_CONFIDENCE = 0.80


@lru_cache(maxsize=8)
def _letters_at_least(count: int) -> re.Pattern[str]:
    """A pattern that matches at the start of a text with at least `count` letters (it stops at the last one
    needed: counting every letter of a 1,000-character sample cost 88 us an article, this 1 us)."""
    return re.compile(rf"(?:[\W\d_]*[^\W\d_]){{{count}}}", re.UNICODE)


# Common non-ISO-639-1 spellings feeds use for their language field.
_ALIASES = {
    "eng": "en",
    "english": "en",
    "deu": "de",
    "ger": "de",
    "german": "de",
    "deutsch": "de",
    "fra": "fr",
    "fre": "fr",
    "french": "fr",
    "français": "fr",
    "spa": "es",
    "spanish": "es",
    "español": "es",
    "por": "pt",
    "portuguese": "pt",
    "português": "pt",
    "ukr": "uk",
    "ukrainian": "uk",
    "rus": "ru",
    "russian": "ru",
    "ara": "ar",
    "arabic": "ar",
    "zho": "zh",
    "chi": "zh",
    "chinese": "zh",
    "kur": "ku",
    "ckb": "ku",
    "kurdish": "ku",
    "sorani": "ku",
}


def normalize_code(value: str | None) -> str | None:
    """Return an ISO 639-1 code for a feed's language value ('en-US' -> 'en'), or None."""
    if not value:
        return None
    v = value.strip().lower().replace("_", "-")
    if v in _ALIASES:
        return _ALIASES[v]
    head = v.split("-")[0]
    if len(head) == 2 and head.isalpha():
        return head
    return _ALIASES.get(head)


@dataclass(frozen=True)
class ProfileMatrix:
    """langdetect's bundled profiles: its languages, and each 1-3-gram's probabilities as a matrix row."""

    langs: list[str]  # the profile directory's order (langdetect's langlist)
    index: dict[str, int]  # n-gram -> row of `matrix`
    matrix: Any  # float64 (n-grams x languages)


@lru_cache(maxsize=1)
def profile_matrix() -> ProfileMatrix:
    """Load langdetect's bundled profiles once per process into one float64 matrix (~80 MB).

    langdetect's own loader keeps ~180k n-grams x 55 languages as lists of Python floats (~350 MB per
    process). This computes the same numbers the same way (count / n_words[len(ngram) - 1], in the
    profile directory's order); newsetl.langid detects with it.
    """
    import os

    import numpy as np
    from langdetect.detector_factory import PROFILES_DIRECTORY

    names = [
        f
        for f in os.listdir(PROFILES_DIRECTORY)
        if not f.startswith(".") and os.path.isfile(os.path.join(PROFILES_DIRECTORY, f))
    ]
    rows: dict[str, int] = {}
    langlist: list[str] = []
    columns = []
    for name in names:
        with open(os.path.join(PROFILES_DIRECTORY, name), encoding="utf-8") as fh:
            profile = json.load(fh)
        langlist.append(profile["name"])
        n_words = profile["n_words"]
        idx, probs = [], []
        for word, count in profile["freq"].items():
            if 1 <= len(word) <= 3:  # langdetect looks up nothing longer
                idx.append(rows.setdefault(word, len(rows)))
                probs.append(1.0 * count / n_words[len(word) - 1])
        columns.append((np.asarray(idx, dtype=np.int64), np.asarray(probs, dtype=np.float64)))
    matrix = np.zeros((len(rows), len(langlist)), dtype=np.float64)
    for j, (rows_j, probs_j) in enumerate(columns):
        matrix[rows_j, j] = probs_j
    return ProfileMatrix(langlist, rows, matrix)


_FLOOR = 1e-7  # the probability an n-gram no profile has counts with


def plausibility(words: list[str]) -> float:
    """Return how much `words` read like one language langdetect knows: the best language's mean
    log-probability of their character 1-3-grams (higher is more plausible; n-grams no profile has
    count as a tiny floor). Used to choose between the decodings of a legacy-encoded file."""
    import numpy as np

    profiles = profile_matrix()
    normalize = _normalizer()
    rows, unknown = [], 0
    for word in words:
        padded = " " + "".join(normalize(ch) for ch in word.lower()) + " "
        for n in (1, 2, 3):
            for i in range(len(padded) - n + 1):
                gram = padded[i : i + n]
                if gram.strip() == "":
                    continue
                row = profiles.index.get(gram)
                if row is None:
                    unknown += 1
                else:
                    rows.append(profiles.matrix[row])
    total = len(rows) + unknown
    if total == 0:
        return 0.0
    logs = (np.log(np.asarray(rows) + _FLOOR).sum(axis=0) if rows else 0.0) + unknown * np.log(_FLOOR)
    return float(np.max(logs) / total)


@lru_cache(maxsize=1)
def _normalizer() -> Any:
    from langdetect.utils.ngram import NGram

    return lru_cache(maxsize=None)(NGram.normalize)


@lru_cache(maxsize=1)
def supported_languages() -> frozenset[str]:
    """Return the ISO 639-1 codes langdetect has profiles for."""
    return frozenset(normalize_code(lang) or lang for lang in profile_matrix().langs)


def detect_language(
    text: str, given: str | None = None, *, max_chars: int = 600, min_letters: int = 20
) -> tuple[str, float | None, str]:
    """Return (language, confidence, method) for one text.

    method is one of: detected, detected_low_confidence, feed, feed_unsupported_by_detector,
    too_short, undetermined.
    """
    return detect_many([text], [given], max_chars=max_chars, min_letters=min_letters)[0]


def detect_many(
    texts: list[str], given: list[str | None], *, max_chars: int = 600, min_letters: int = 20
) -> list[tuple[str, float | None, str]]:
    """`detect_language` for each text (with the language its feed gives, or None), detected together."""
    from newsetl import langid

    out: list[tuple[str, float | None, str] | None] = []
    codes = [normalize_code(g) for g in given]
    asked: list[int] = []
    for text, code in zip(texts, codes, strict=True):
        if code and code not in supported_languages():
            # langdetect cannot answer for this language (e.g. Kurdish): it would name a neighbour.
            out.append((code, None, "feed_unsupported_by_detector"))
        elif not _letters_at_least(min_letters).match(text[:max_chars]):
            out.append((code, None, "feed") if code else (UNDETERMINED, None, "too_short"))
        else:
            asked.append(len(out))
            out.append(None)
    # langdetect's own algorithm and seeded sampling, over arrays (newsetl.langid): stock's answer, faster.
    answers = langid.detect_many([texts[i][:max_chars] for i in asked], max_chars)
    for i, probs in zip(asked, answers, strict=True):
        out[i] = _decide(probs, codes[i])
    return [o for o in out if o is not None]


def _decide(probs: list[tuple[str, float]], given: str | None) -> tuple[str, float | None, str]:
    """The language of a text from langdetect's probabilities and the language its feed gives."""
    if probs and probs[0][1] >= MIN_CONFIDENCE:
        return normalize_code(probs[0][0]) or probs[0][0], probs[0][1], "detected"
    if given:
        return given, None, "feed"
    if probs:
        return normalize_code(probs[0][0]) or probs[0][0], probs[0][1], "detected_low_confidence"
    return UNDETERMINED, None, "undetermined"


def detect_languages(articles: pa.Table, *, max_chars: int = 600, min_letters: int = 20) -> pa.Table:
    """Return `articles` with language, language_confidence and language_method columns set."""
    titles = articles.column("title").to_pylist()
    texts = articles.column("text").to_pylist()
    samples = [f"{title or ''}\n{text or ''}" for title, text in zip(titles, texts, strict=True)]
    found = detect_many(
        samples, articles.column("language_given").to_pylist(), max_chars=max_chars, min_letters=min_letters
    )
    langs, confs, methods = (list(c) for c in zip(*found, strict=True)) if found else ([], [], [])
    return with_columns(
        articles,
        {
            "language": pa.array(langs, pa.string()),
            "language_confidence": pa.array(confs, pa.float64()),
            "language_method": pa.array(methods, pa.string()),
        },
    )
