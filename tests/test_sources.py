"""Outlets: registry variants, signal order, unknown outlets flagged."""

from __future__ import annotations

import pyarrow as pa

from newsetl.sources import host_of, load_registry, resolve_outlet, resolve_outlets

REG = load_registry()


def test_variants_map_to_one_outlet():
    """'Ukrainian news', 'Ukrainian News Agency' and its domain are one outlet."""
    ids = {
        resolve_outlet({"outlet_meta": v}, REG)["outlet_id"]
        for v in ("Ukrainian news", "Ukrainian News Agency", "UKRAINIAN NEWS AGENCY.", "https://ukranews.com/en/news/1")
    }
    assert ids == {"ukrainian-news"}
    assert resolve_outlet({"url": "https://www.ukranews.com/en/news/1"}, REG)["outlet_id"] == "ukrainian-news"


def test_signal_order_and_method():
    """Metadata beats header beats trailer beats the page's own name beats its URL; the method says which."""
    sig = {
        "outlet_meta": None,
        "outlet_header": "Ukrainian news",
        "outlet_trailer": "CNN Brasil",
        "url": "https://www.reuters.com/x",
        "site_name": "Le Monde",
    }
    got = resolve_outlet(sig, REG)
    assert (got["outlet_id"], got["outlet_method"]) == ("ukrainian-news", "header")
    got = resolve_outlet(sig | {"outlet_header": None, "outlet_trailer": None}, REG)
    assert (got["outlet_id"], got["outlet_method"]) == ("le-monde", "site_name")
    got = resolve_outlet(sig | {"outlet_header": None, "outlet_trailer": None, "site_name": None}, REG)
    assert (got["outlet_id"], got["outlet_method"]) == ("reuters", "url_domain")


def test_known_later_signal_beats_unknown_earlier_one():
    """An unknown metadata name does not hide a URL the registry knows."""
    got = resolve_outlet({"outlet_meta": "Some Blog", "url": "https://elpais.com/a"}, REG)
    assert (got["outlet_id"], got["outlet_known"]) == ("el-pais", True)


def test_unknown_outlet_is_kept_and_flagged():
    """An outlet not in the registry keeps its name, gets a slug id and known = False."""
    got = resolve_outlet({"site_name": "Riverside Gazette"}, REG)
    assert got == {
        "outlet_id": "riverside-gazette",
        "outlet_name": "Riverside Gazette",
        "outlet_known": False,
        "outlet_method": "site_name",
        "outlet_raw": "Riverside Gazette",
    }
    assert resolve_outlet({}, REG)["outlet_id"] == "unknown"


def test_hosts():
    """Hosts lose www./m. prefixes; non-domains are None."""
    assert host_of("https://m.bbc.co.uk/news") == "bbc.co.uk"
    assert host_of("www.lemonde.fr") == "lemonde.fr"
    assert host_of("CNN Brasil") is None


def test_resolve_outlets_table():
    """The table stage adds outlet columns to every row."""
    t = pa.table({"outlet_meta": ["Xinhua", None], "url": [None, "http://news.cn/a"]})
    out = resolve_outlets(t, REG)
    assert out.column("outlet_id").to_pylist() == ["xinhua", "xinhua"]
    assert out.column("outlet_method").to_pylist() == ["metadata", "url_domain"]


def test_unknown_hosts_are_keyed_by_their_registrable_domain():
    """Unknown outlets from a URL: the registrable domain (public-suffix list, offline), IDNs in both spellings."""
    got = resolve_outlet({"url": "https://news.example.co.uk/a/b"}, REG)
    assert (got["outlet_id"], got["outlet_name"]) == ("example-co-uk", "example.co.uk")
    idn = resolve_outlet({"url": "http://президент.рф/news/1"}, REG)
    puny = resolve_outlet({"url": "http://xn--d1abbgf6aiiy.xn--p1ai/news/1"}, REG)
    assert idn["outlet_name"] == puny["outlet_name"] == "президент.рф"
    assert idn["outlet_id"] == puny["outlet_id"] and idn["outlet_id"] != "unknown"
    assert host_of("http://[broken/x") is None


def test_a_page_that_names_itself_beats_its_host():
    """og:site_name / JSON-LD publisher name comes before the bare host name."""
    got = resolve_outlet({"site_name": "Harbour Times", "url": "https://cdn.hosting-example.com/p/1"}, REG)
    assert (got["outlet_name"], got["outlet_method"]) == ("Harbour Times", "site_name")


def test_no_outlet_is_set_with_an_empty_name():
    """Signals that hold no name (blank, punctuation) are skipped: an outlet is either named or `unknown`."""
    for blank in ("", "   ", "—", "..."):
        got = resolve_outlet({"outlet_meta": blank, "site_name": blank}, REG)
        assert got["outlet_id"] == "unknown" or got["outlet_name"]
