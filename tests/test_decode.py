"""Encodings: BOMs, UTF-8, detected legacy encodings, binary content."""

from __future__ import annotations

import pytest

from newsetl.ingest.decode import DecodeError, decode_bytes

RU = "Национальная библиотека завершила оцифровку крупного собрания газет прошлого века."


def test_utf8_and_bom():
    """UTF-8 decodes as is; a UTF-8 BOM is dropped."""
    assert decode_bytes("café".encode()) == ("café", "utf-8")
    assert decode_bytes(b"\xef\xbb\xbfcaf\xc3\xa9")[0] == "café"


def test_utf16_with_bom():
    """UTF-16 with a BOM is decoded by the BOM."""
    text, enc = decode_bytes("Grüße aus Köln".encode("utf-16"))
    assert text == "Grüße aus Köln" and enc.startswith("utf-16")


def test_cp1251_is_detected():
    """A Cyrillic cp1251 text is detected, not mangled."""
    text, _enc = decode_bytes(RU.encode("cp1251"))
    assert text == RU


def test_binary_is_rejected():
    """NUL bytes without a BOM mean binary content."""
    with pytest.raises(DecodeError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
