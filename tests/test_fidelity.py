"""Cleaning changes only what the README lists: text in every script arrives as NFC(original), up to whitespace."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsetl.clean import clean_record

# Sentences written for this test, with the joiners, selectors and marks their scripts use.
SENTENCES = {
    "persian_zwnj": "او می\u200cداند که کتاب\u200cها در کتابخانه\u200cی شهر نگهداری می\u200cشوند.",
    "arabic": "أعلنت البلدية يوم الخميس عن خطة لتوسيع خط الترام الشمالي بأربعة كيلومترات.",
    "hindi_zwj": "नगर परिषद ने गुरुवार को उत्तरी ट्राम लाइन के विस्तार की योजना को मंज़ूरी दी, क्\u200dष लिखा गया।",
    "bengali_zwnj": "পৌরসভা বৃহস্পতিবার উত্তরের ট্রাম লাইন সম্প্রসারণের পরিকল্পনা অনুমোদন র\u200c্যাব করেছে।",
    "gurmukhi": "ਨਗਰ ਕੌਂਸਲ ਨੇ ਵੀਰਵਾਰ ਨੂੰ ਉੱਤਰੀ ਟਰਾਮ ਲਾਈਨ ਨੂੰ ਵਧਾਉਣ ਦੀ ਯੋਜਨਾ ਨੂੰ ਮਨਜ਼ੂਰੀ ਦਿੱਤੀ।",
    "tamil": "நகர சபை வியாழக்கிழமை வடக்கு டிராம் பாதையை நீட்டிக்கும் திட்டத்திற்கு ஒப்புதல் அளித்தது.",
    "thai": "สภาเทศบาลอนุมัติแผนขยายเส้นทางรถรางสายเหนือเมื่อวันพฤหัสบดี",
    "hebrew_bidi": "מועצת העיר אישרה ביום חמישי את הרחבת קו \u200fהרכבת הקלה\u200f בארבעה קילומטרים.",
    "mixed_bidi": "The mayor said \u2067مرحبا\u2069 to the crowd and \u202bשלום\u202c too.",
    "cjk": "市议会周四批准了将北部电车线路延长四公里的计划。東京の市電も延伸される。",
    "korean": "시의회는 목요일 북부 전차 노선을 4킬로미터 연장하는 계획을 승인했다.",
    "cyrillic": "Городской совет в четверг одобрил план продления северной трамвайной линии.",
    "greek": "Το δημοτικό συμβούλιο ενέκρινε την Πέμπτη σχέδιο επέκτασης της βόρειας γραμμής του τραμ.",
    "latin_diacritics": "La médiathèque de Nantes rouvre ; Łódź, Ærø, São Paulo, Çanakkale, Dvořák, Ñuñoa.",
    "emoji_selectors": "Residents sent \u2764\ufe0f and \u263a\ufe0e to the council; the flag \U0001f3f3\ufe0f\u200d\U0001f308 flew.",
    "decomposed": "Cafe\u0301 and re\u0301sume\u0301 written with combining accents.",
}


def _squash(s: str) -> str:
    return " ".join(s.split())


@pytest.mark.parametrize("name", sorted(SENTENCES))
def test_text_in_every_script_arrives_unaltered(name):
    """A paragraph in each script: cleaned text == NFC(original), up to whitespace."""
    original = SENTENCES[name]
    rec, rejected = clean_record({"title": "Tram line", "text": f"{original}\n\n{original} {original}"})
    assert rejected is None and rec is not None
    expected = unicodedata.normalize("NFC", f"{original}\n\n{original} {original}")
    assert _squash(rec["text"]) == _squash(expected)


_SPELLING = st.sampled_from(["\u200c", "\u200d", "\ufe0f", "\ufe0e", "\u200e", "\u200f", "\u2067", "\u2069", "\u061c"])


@given(
    words=st.lists(st.sampled_from([w for s in SENTENCES.values() for w in s.split()]), min_size=3, max_size=20),
    marks=st.lists(_SPELLING, max_size=6),
    at=st.lists(st.integers(0, 10_000), max_size=6),
)
def test_joiners_selectors_and_bidi_marks_are_kept(words, marks, at):
    """Any text with joiners, variation selectors and bidi marks inserted anywhere keeps every one of them."""
    text = " ".join(words)
    for mark, pos in zip(marks, at, strict=False):
        i = pos % (len(text) + 1)
        text = text[:i] + mark + text[i:]
    rec, rejected = clean_record({"title": "Title", "text": text + " end of the story."})
    assert rejected is None and rec is not None
    assert _squash(rec["text"]) == _squash(unicodedata.normalize("NFC", text + " end of the story."))
