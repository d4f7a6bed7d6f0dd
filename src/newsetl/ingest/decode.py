"""Decode: raw bytes of a text-like file into str, detecting the encoding when it is not UTF-8."""

from __future__ import annotations

import codecs


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
    if best is None:
        raise DecodeError("not valid UTF-8 and no other text encoding detected")
    return str(best), best.encoding
