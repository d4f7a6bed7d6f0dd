"""newsetl.mojibake.is_bad answers exactly as ftfy's is_bad, on any text, clean or damaged."""

from __future__ import annotations

import ftfy.badness
from hypothesis import given, settings
from hypothesis import strategies as st

from newsetl import mojibake

# Every character ftfy's regex names, plus ASCII, spaces and scripts it never names (Arabic, Han).
_NAMED = sorted(set().union(*(s for _, sets in mojibake._ALTERNATIVES or [] for s in sets)))
_ALPHABET = st.sampled_from(_NAMED + list("abcxyzABCXYZ .,?!-\n\t") + list("مرحبا中文新闻"))
_WORDS = st.sampled_from(["café", "Straße", "Éxito", "año", "новости", "Ελλάδα", "°C", "5 €", "№ 7", "«oui»"])
# One character of each set an alternative requires, in order, with a space, a letter or nothing between:
# the sequences the regex looks for (and near misses), for every alternative alike.
_SEQUENCES = (
    st.sampled_from(mojibake._ALTERNATIVES or [("", [])])
    .flatmap(
        lambda alt: st.tuples(
            *(st.tuples(st.sampled_from(sorted(s)), st.sampled_from(["", "", " ", "a"])) for s in alt[1])
        )
    )
    .map(lambda parts: "".join(c + gap for c, gap in parts))
)
_ENCODINGS = st.sampled_from(["latin-1", "cp1252", "cp1251", "cp1253", "cp1257", "mac_roman", "cp437"])


def test_ftfys_regex_was_understood():
    """The fast path is in use: every alternative of ftfy's regex was read (otherwise it is ftfy's own, slower)."""
    assert mojibake._ALTERNATIVES is not None
    assert len(mojibake._ALTERNATIVES) == len(mojibake._split_top_level(ftfy.badness.BADNESS_RE.pattern)) > 30


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(_ALPHABET, _WORDS, _SEQUENCES), max_size=40).map("".join))
def test_same_answer_as_ftfy_on_any_mix_of_the_characters_it_names(text):
    assert mojibake.is_bad(text) == ftfy.badness.is_bad(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_ALPHABET, _WORDS), min_size=1, max_size=40).map("".join), _ENCODINGS)
def test_same_answer_as_ftfy_on_mojibake(text, encoding):
    """UTF-8 read as a legacy code page: the damage ftfy's regex is written to find."""
    damaged = text.encode("utf-8").decode(encoding, errors="replace")
    assert mojibake.is_bad(damaged) == ftfy.badness.is_bad(damaged)


def test_known_cases():
    assert mojibake.is_bad("The cafÃ© opened at 9") and not mojibake.is_bad("The café opened at 9")
    assert mojibake.is_bad("Ð½Ð¾Ð²Ð¾ÑÑ‚Ð¸") and not mojibake.is_bad("новости дня")
    assert not mojibake.is_bad("") and not mojibake.is_bad("plain ascii text")
