"""newsetl.langid gives stock langdetect's n-grams, in order, and its probabilities, for any text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsetl.langid import ngram_rows, probabilities, profiles

TEXTS = [
    "NATO and the EU said ÜBER 200 Menschen; Ma'an — “quoted” text, URLs https://x.example/a?b=1 a@b.example.",
    "Tiếng Việt có dấu: Hà Nội, Thành phố Hồ Chí Minh. ひらがな カタカナ 한국어 ㄅㄆㄇ",
    "فارسی ی و عربی ي with Romanian ș ț and ALL CAPS WORDS Mixed iN CaSe.",
    "Национальная библиотека завершила оцифровку, and a few English words, BBC NEWS.",
    "连接成都和重庆的新一条高速铁路线路于本周一开始试运行 (Xinhua) 𝐁𝐨𝐥𝐝 𐐀𐐨 text",
    "  leading   and trailing   spaces  ",
    "A",
    "",
]

# Every script langdetect treats specially, capitals, punctuation, digits, spaces, Vietnamese combining
# marks, URLs and e-mail addresses, and letters outside the Basic Multilingual Plane.
PIECES = st.sampled_from(
    [
        *"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ      ..,;'-—“”0123456789",
        *"äöüßÄÖÜéèàçñÑøåÆœ",
        *"ăâđêôơưĂÂĐÊÔƠƯ\u0300\u0301\u0303\u0309\u0323ạảấầẩẫậắằẳẵặẹẻẽếềểễệ",
        *"șțşţ",
        *"абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗІЇЄҐіїєґ",
        *"αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔ",
        *"ابتثجحخدذرزسشصضطظعغفقكلمنهويیکگپچژ",
        *"的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
        *"あいうえおかきくけこアイウエオカキクケコ",
        *"ㄅㄆㄇㄈ가나다라마바사",
        *"אבגדהוזחטיכלמנסעפצקרשת",
        *"กขคงจฉชซฌญ",
        "𝐀",
        "𐐀",
        "𐐨",
        "😀",
        " https://news.example/a?b=1 ",
        " someone@news.example ",
        "\u00a0",
        "\t",
        "\n",
    ]
)
TEXT = st.lists(PIECES, max_size=400).map("".join)


@pytest.fixture(scope="module")
def stock():
    """Stock langdetect: its own loader, its own Detector, the same seed."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def _stock_ngrams(stock, text: str, max_len: int) -> list[str]:
    d = stock.create()
    d.set_max_text_length(max_len)
    d.append(text)
    d.cleaning_text()
    return d._extract_ngrams()


def _stock_probabilities(stock, text: str, max_len: int) -> list[tuple[str, float]]:
    from langdetect.lang_detect_exception import LangDetectException

    d = stock.create()
    d.set_max_text_length(max_len)
    d.append(text)
    try:
        return [(p.lang, p.prob) for p in d.get_probabilities()]
    except LangDetectException:
        return []


def _same(stock, text: str, max_len: int) -> None:
    words = _words()
    assert [words[r] for r in ngram_rows(text, max_len)] == _stock_ngrams(stock, text, max_len), text
    want = _stock_probabilities(stock, text, max_len)
    got = probabilities(ngram_rows(text, max_len))
    assert [lang for lang, _ in got] == [lang for lang, _ in want], text
    assert all(abs(g - w) < 1e-9 for (_, g), (_, w) in zip(got, want, strict=True)), (got, want)


def _words() -> list[str]:
    from newsetl.language import profile_matrix

    index = profile_matrix().index
    words = [""] * len(index)
    for w, i in index.items():
        words[i] = w
    return words


def test_profiles_cover_langdetect():
    """Every n-gram of the profiles is found by its key (and at its own row), and every language is there."""
    import numpy as np

    from newsetl.langid import _key

    p = profiles()
    words = _words()
    assert len(p.langs) == 55 and len(words) == len(p.matrix)
    keys = np.array([_key(w) for w in words], dtype=np.uint64)
    assert (p.grams.get(keys) == np.arange(len(words))).all()
    absent = [w for w in ("\ua66e", "\ua66e\ua66e", "q\ua66eq", "zzx", "xq") if w not in set(words)]
    assert len(absent) >= 3
    assert (p.grams.get(np.array([_key(w) for w in absent], dtype=np.uint64)) == -1).all()


def test_cleaning_counts_non_latin_as_langdetect_does():
    """Detector.cleaning_text's non-Latin test is `cp >= U+0300` for every character (its block test never fails)."""
    from langdetect.utils.unicode_block import unicode_block

    assert all(
        (ch >= "\u0300" and unicode_block(ch) != "Latin Extended Additional") == (ord(ch) >= 0x300)
        for ch in map(chr, range(0x10000))
    )


@pytest.mark.parametrize("text", TEXTS)
def test_known_texts_match_stock(stock, text):
    """Mixed scripts, capitals, URLs, Vietnamese, astral letters: the same n-grams and probabilities."""
    _same(stock, text, 10000)


@pytest.mark.parametrize("max_len", [1, 7, 50, 1000])
def test_cut_matches_stock(stock, max_len):
    """The text is cut where langdetect cuts it (before runs of spaces are collapsed)."""
    _same(stock, TEXTS[0] + "   " + TEXTS[3] * 20, max_len)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, max_len=st.sampled_from([10000, 1000, 60]))
def test_any_text_matches_stock(stock, text, max_len):
    """For any text: stock langdetect's n-grams in its order, and its answer and probabilities to 1e-9."""
    _same(stock, text, max_len)


@pytest.mark.parametrize("text", ["e", "a a a", "ab ba " * 300 + "ав ва " * 300])
def test_slow_trials_match_stock(stock, text):
    """Texts whose trials converge slowly or never (a single letter stops at langdetect's 1,000 draws):
    the draws run over several blocks of the generator and still match stock langdetect."""
    _same(stock, text, 10000)


def test_the_seeded_stream_is_read_as_random_reads_it():
    """This Python's random.Random(0) gives the words, gauss values and choices the fast path assumes."""
    from newsetl.langid import _stream

    assert _stream().emulated


def test_without_the_emulated_stream_stock_langdetect_answers(stock, monkeypatch):
    """Where random draws differently (another Python), detect() asks stock langdetect: the same answers."""
    from newsetl import langid

    monkeypatch.setattr(langid._stream(), "emulated", False)
    for text in TEXTS[:4]:
        assert langid.detect(text, 1000) == _stock_probabilities(stock, text, 1000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXT, max_size=12), group=st.sampled_from([1, 3, 512]))
def test_texts_detected_together_each_get_stock_answers(stock, texts, group):
    """Many texts' n-grams are made end to end and their trials run side by side (in groups of any size),
    each from its own place in the seeded stream: every text gets stock langdetect's n-grams, answer and
    probabilities, as if detected alone."""
    from newsetl import langid

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(langid, "GROUP", group)
        got = langid.detect_many(texts + ["e", "ab ba " * 300], 1000)
    words = _words()
    rows = langid.ngram_rows_many(texts + ["e", "ab ba " * 300], 1000)
    for text, answer, mine in zip(texts + ["e", "ab ba " * 300], got, rows, strict=True):
        assert [words[r] for r in mine] == _stock_ngrams(stock, text, 1000), text
        want = _stock_probabilities(stock, text, 1000)
        assert [lang for lang, _ in answer] == [lang for lang, _ in want], text
        assert all(abs(g - w) < 1e-9 for (_, g), (_, w) in zip(answer, want, strict=True)), (answer, want)
