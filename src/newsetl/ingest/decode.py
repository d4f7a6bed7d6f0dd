"""Decode: raw bytes of a text-like file into str, detecting the encoding when it is not UTF-8."""

from __future__ import annotations

import codecs
import re
from functools import lru_cache


class DecodeError(ValueError):
    """The bytes are not text in any encoding we can detect."""


_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]


def bom_encoding(data: bytes) -> str | None:
    """Return the stream codec named by a leading byte-order mark (it consumes the BOM), or None."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return "utf-8-sig" if enc == "utf-8" else enc[:6]
    return None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Return (text, encoding) for `data`.

    Order: a byte-order mark wins; then strict UTF-8; then charset-normalizer's best guess.
    Bytes with NUL characters and no BOM are treated as binary.
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(enc), enc
            except UnicodeDecodeError as exc:
                raise DecodeError(f"invalid {enc} after byte-order mark at byte {exc.start}") from exc
    if b"\x00" in data[:65536]:
        raise DecodeError("binary content (NUL bytes) in a text file")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    choice = most_plausible(data, best.encoding if best is not None else None)
    if choice is None:
        raise DecodeError("not valid UTF-8 and no other text encoding detected")
    return data.decode(choice), choice


# The single-byte code pages legacy news text comes in, Western first (cp1252 ⊃ latin-1 letters).
SINGLE_BYTE = (
    "cp1252",
    "cp1250",
    "cp1251",
    "koi8_r",
    "koi8_u",
    "cp1253",
    "cp1254",
    "cp1257",
    "iso8859_2",
    "iso8859_5",
    "iso8859_7",
    "iso8859_9",
    "iso8859_15",
    "mac_cyrillic",
    "cp866",
)
_NON_ASCII_WORD = re.compile(r"\S*[^\x00-\x7f]\S*")


_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_CJK_BY_LATIN = re.compile(
    "(?<=[A-Za-z])[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af](?=[A-Za-z])"
)


def _reads_as_cjk(text: str) -> bool:
    """True when CJK characters make up the non-ASCII text and stand in runs, not wedged into Latin words
    (mojibake: 'M嶮iath鋂ue' is a cp1252 word read as Big5)."""
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    cjk = len(_CJK.findall(text))
    return non_ascii > 0 and cjk >= 0.8 * non_ascii and len(_CJK_BY_LATIN.findall(text)) <= 0.05 * cjk


@lru_cache(maxsize=64)
def _single_byte(encoding: str) -> bool:
    """True for a code page that maps every byte to one character (cp1252, koi8-r, cp1258, ...)."""
    try:
        return len(bytes(range(256)).decode(encoding, errors="replace")) == 256
    except LookupError:
        return False


def most_plausible(data: bytes, hint: str | None = None, sample_words: int = 3000) -> str | None:
    """Return the encoding under which `data` reads most like a language (None: none decodes it).

    charset-normalizer alone confuses neighbours (French in cp1252 read as cp1250 turns `è` into `č`);
    the words that differ between decodings are scored with langdetect's n-gram profiles instead.
    """
    from newsetl.language import plausibility

    if hint and not _single_byte(hint):
        try:
            if _reads_as_cjk(data.decode(hint)):
                return hint  # Han, kana and Hangul in runs: no single-byte code page makes those
        except UnicodeDecodeError:
            pass
    scored: list[tuple[float, int, str]] = []
    # charset-normalizer's pick competes too (it is the one that finds Shift-JIS, GB18030, EUC-KR, ...).
    for enc in (*SINGLE_BYTE, *([hint] if hint and not _single_byte(hint) else [])):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        words = _NON_ASCII_WORD.findall(text)[:sample_words]
        bonus = 1 if hint and codecs.lookup(hint).name == codecs.lookup(enc).name else 0
        scored.append((plausibility(words), bonus, enc))
    if not scored:
        return None
    return max(scored, key=lambda s: (s[0], s[1]))[2]
