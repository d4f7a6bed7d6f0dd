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


# Legacy-encoded articles, written for this test, in the code pages their languages used.
LEGACY = [
    (
        "fr",
        "cp1252",
        "La médiathèque de Nantes rouvre ses portes après des travaux ; les élèves y trouveront des œuvres rénovées.",
    ),
    ("fr", "latin-1", "La médiathèque de Nantes rouvre après deux années de travaux, a annoncé la mairie à la presse."),
    ("de", "cp1252", "Die Stadtverwaltung kündigte an, dass die Brücke über die Weser für Fußgänger geöffnet bleibt."),
    ("es", "cp1252", "El ayuntamiento anunció que la biblioteca abrirá el próximo año con más espacio para niños."),
    ("pt", "cp1252", "A prefeitura anunciou que o armazém do porto será transformado em centro cultural até março."),
    ("it", "cp1252", "Il comune ha annunciato che la città riaprirà il museo più grande della regione già lunedì."),
    (
        "pl",
        "cp1250",
        "Władze miasta ogłosiły, że nowa linia tramwajowa połączy dworzec z północnymi dzielnicami Łodzi.",
    ),
    ("pl", "iso-8859-2", "Rada miejska zatwierdziła plan budowy mostu, który skróci dojazd do śródmieścia o kwadrans."),
    ("cs", "cp1250", "Městská rada schválila plán na prodloužení tramvajové tratě o čtyři kilometry až k nádraží."),
    ("ru", "cp1251", "Городской совет одобрил план продления северной трамвайной линии на четыре километра."),
    ("ru", "koi8-r", "Национальная библиотека завершила оцифровку крупного собрания газет прошлого века."),
    ("uk", "cp1251", "Міська рада схвалила план подовження північної трамвайної лінії на чотири кілометри."),
    ("uk", "koi8-u", "Львівська міська рада ухвалила рішення про будівництво нової їдальні для школярів."),
    ("el", "cp1253", "Το δημοτικό συμβούλιο ενέκρινε το σχέδιο επέκτασης της βόρειας γραμμής του τραμ."),
    ("el", "iso-8859-7", "Η δημοτική βιβλιοθήκη ολοκλήρωσε την ψηφιοποίηση της συλλογής παλαιών εφημερίδων."),
    (
        "tr",
        "cp1254",
        "Belediye meclisi, kuzey tramvay hattının dört kilometre uzatılması planını onayladı; işçiler hazır.",
    ),
    ("tr", "iso-8859-9", "İstanbul'da şehir kütüphanesi, eski gazete arşivinin dijitalleştirilmesini tamamladı."),
    ("ja", "shift_jis", "市議会は木曜日、北部の路面電車の路線を四キロ延長する計画を承認した。工事は春に始まる予定だ。"),
    ("zh", "gb18030", "市议会周四批准了将北部电车线路延长四公里的计划，工程预计明年春天开工，历时约十八个月。"),
    ("ko", "euc-kr", "시의회는 목요일 북부 전차 노선을 사킬로미터 연장하는 계획을 승인했다. 공사는 봄에 시작된다."),
]


@pytest.mark.parametrize(("lang", "encoding", "text"), LEGACY, ids=[f"{lang}-{enc}" for lang, enc, _ in LEGACY])
def test_legacy_encoded_articles_decode_exactly(lang, encoding, text):
    """A news text in its language's usual single-byte code page decodes to exactly the original."""
    body = f"{text}\n\n{text}"
    decoded, _enc = decode_bytes(body.encode(encoding))
    assert decoded == body


def test_a_late_jsonl_line_in_another_encoding_is_decoded_not_replaced(tmp_path):
    """A JSONL file whose line after the first 64 KiB is in cp1252: that line decodes exactly, no U+FFFD."""
    import json

    from newsetl.ingest import discover_files, read_file

    filler = [
        json.dumps({"title": f"Story {i}", "text": "Plain ASCII text about the harbour. " * 20}) for i in range(120)
    ]
    late = json.dumps(
        {"title": "Médiathèque", "text": "La médiathèque rouvre ; les élèves sont ravis."}, ensure_ascii=False
    )
    undecodable = b"\x81\x8d\x8f\x90\x9d" * 4  # no code page in the list decodes these as text
    data = "\n".join(filler).encode() + b"\n" + late.encode("cp1252") + b"\n" + undecodable + b"\n"
    assert len(data) > 65536
    (tmp_path / "feed.jsonl").write_bytes(data)
    [entry] = discover_files(tmp_path)
    items = list(read_file(entry))
    records = [i for i in items if isinstance(i, dict)]
    assert records[-1]["title"] == "Médiathèque" and records[-1]["text"].startswith("La médiathèque")
    assert not any("\ufffd" in (r.get("text") or "") + (r.get("title") or "") for r in records)
    issues = [i for i in items if not isinstance(i, dict)]
    assert [i.reason for i in issues] in ([], ["undecodable"], ["malformed_json"])
