"""Language detection: ISO codes, confidence, short texts, feed fallback, repeatability."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from newsetl.language import UNDETERMINED, detect_language, detect_languages, normalize_code

SAMPLES = {
    "en": "The city council approved a plan to extend the northern tram line by four kilometres next year.",
    "de": "Die Deutsche Bahn will bis zum Sommer alle Regionalzüge zwischen Hannover und Bremen ausstatten.",
    "fr": "La ville accueillera au printemps prochain un festival consacré aux musiques des fleuves.",
    "es": "El Ayuntamiento presentó este martes un plan para reducir el consumo de agua en los parques.",
    "pt": "A prefeitura anunciou nesta sexta-feira um plano para transformar o antigo armazém do porto.",
    "ru": "Национальная библиотека завершила оцифровку крупного собрания газет прошлого века.",
    "uk": "Уряд України схвалив програму відновлення зерносховищ у прифронтових областях.",
    "ar": "أعلنت وزارة الطاقة يوم الأحد عن افتتاح محطة جديدة للطاقة الشمسية في محافظة معان.",
    "zh": "连接成都和重庆的新一条高速铁路线路于本周一开始试运行，两地之间的旅行时间将缩短。",
}


def test_detects_iso_639_1_codes():
    """Each sample language comes back as its two-letter code, with a confidence in [0, 1]."""
    for lang, text in SAMPLES.items():
        got, conf, method = detect_language(text)
        assert (got, method) == (lang, "detected"), text
        assert 0.8 <= conf <= 1.0


def test_short_text_is_und_or_feed():
    """Too few letters: 'und', unless the feed gave a language."""
    assert detect_language("OK 2025") == (UNDETERMINED, None, "too_short")
    assert detect_language("OK 2025", "pt-BR") == ("pt", None, "feed")


def test_feed_language_unknown_to_detector_is_used():
    """langdetect has no Kurdish profile: the feed's 'ckb' becomes 'ku'."""
    assert detect_language(SAMPLES["ar"], "ckb") == ("ku", None, "feed_unsupported_by_detector")


def test_detection_is_repeatable():
    """The fixed seed gives the same probability every time."""
    text = "Short mixed text, avec quelques mots français and some English words."
    assert len({detect_language(text) for _ in range(5)}) == 1


def test_normalize_code():
    """Feed spellings map to ISO 639-1."""
    assert [normalize_code(v) for v in ("en-US", "EN", "deu", "Português", "zh_CN", "xx-long-junk", None)] == [
        "en",
        "en",
        "de",
        "pt",
        "zh",
        "xx",
        None,
    ]


def test_detect_languages_sets_columns():
    """The table stage adds the three language columns for every row."""
    t = pa.table({"title": ["", ""], "text": [SAMPLES["de"], "ok"], "language_given": [None, None]})
    out = detect_languages(t)
    assert out.column("language").to_pylist() == ["de", "und"]
    assert out.column("language_method").to_pylist() == ["detected", "too_short"]


def test_array_detector_matches_stock_langdetect():
    """The array-based detector gives stock langdetect's answer and probability on the same seed."""
    from langdetect import DetectorFactory
    from langdetect.detector_factory import PROFILES_DIRECTORY
    from langdetect.detector_factory import DetectorFactory as Factory

    stock = Factory()
    stock.load_profile(PROFILES_DIRECTORY)
    DetectorFactory.seed = 0
    stock.set_seed(0)
    for text in [*SAMPLES.values(), "Mixed text avec des mots français and English words together here."]:
        d = stock.create()
        d.set_max_text_length(1000)
        d.append(text)
        best = d.get_probabilities()[0]
        lang, conf, method = detect_language(text, max_chars=1000)
        assert lang == (best.lang.split("-")[0]) and abs(conf - best.prob) < 1e-6, text


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("ab Z9_-.\n\t") + ["é", "Ж", "中", "٣", "ß", "\u0301", "😀"]), max_size=80
    ),
    count=st.integers(0, 30),
)
def test_the_too_short_check_counts_letters_as_a_full_count_does(text, count):
    """Stopping at the letter that is needed answers as counting every letter of the sample does."""
    import re

    from newsetl.language import _letters_at_least

    assert (_letters_at_least(count).match(text) is not None) == (len(re.findall(r"[^\W\d_]", text)) >= count)
