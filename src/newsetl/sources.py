"""Sources: decide each article's canonical outlet from its signals and the outlet registry."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from urllib.parse import urlsplit

import pyarrow as pa

from newsetl.schema import SOURCES, from_rows, with_columns

# Signals in the order they are trusted: explicit metadata, the header outlet line, a Source:
# trailer, the page's own name (og:site_name, JSON-LD publisher), the URL's registrable domain; the
# landing sub-folder comes last. A page that names itself is believed before its bare host name.
SIGNALS = (
    ("outlet_meta", "metadata"),
    ("outlet_header", "header"),
    ("outlet_trailer", "trailer"),
    ("site_name", "site_name"),
    ("url", "url_domain"),
    ("folder", "folder"),
)
# Host names: ASCII or internationalised labels (президент.рф), at least one dot, a 2+ letter TLD.
_DOMAIN = re.compile(r"^(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{2,}|xn--[a-z0-9-]+)$")
_HOST_PREFIXES = ("www.", "m.", "amp.", "mobile.", "edition.")


def name_key(name: str) -> str:
    """Return the comparison key of an outlet name: case, accents, punctuation and 'the' ignored."""
    s = unicodedata.normalize("NFKD", name.casefold())
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = re.sub(r"[^\w]+", " ", s).strip()
    return re.sub(r"^the ", "", s)


def host_of(value: str) -> str | None:
    """Return the bare host of a URL or domain-like string ('https://www.x.com/a' -> 'x.com')."""
    v = value.strip().lower()
    if "://" in v:
        try:
            v = urlsplit(v).hostname or ""
        except ValueError:  # e.g. http://[broken/x: no host can be read from it
            return None
    elif "/" in v:
        v = v.split("/", 1)[0]
    v = v.split(":")[0].strip(".")
    if "xn--" in v:  # punycode -> the name people read (президент.рф), so both spellings are one outlet
        try:
            v = v.encode("ascii").decode("idna")
        except (UnicodeError, ValueError):
            return None
    for p in _HOST_PREFIXES:
        if v.startswith(p) and v.count(".") > 1:
            v = v[len(p) :]
    return v if _DOMAIN.match(v) else None


def registrable_domain(host: str) -> str:
    """Return the registrable domain of a host (news.example.co.uk -> example.co.uk; президент.рф stays).

    Uses the public-suffix list shipped inside the `tld` package (offline); a host under no known
    suffix (riverside-gazette.example) is its own registrable domain.
    """
    from tld import get_fld

    return get_fld(host, fix_protocol=True, fail_silently=True) or host


def slug(value: str) -> str:
    """Return a stable id for an outlet the registry does not know."""
    return re.sub(r"[^\w]+", "-", name_key(value)).strip("-") or "unknown"


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    country: str | None = None
    language: str | None = None


@dataclass
class Registry:
    """Outlets with lookup by alias and by domain."""

    outlets: list[Outlet]
    by_name: dict[str, Outlet] = field(default_factory=dict)
    by_domain: dict[str, Outlet] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for o in self.outlets:
            for alias in (o.name, *o.aliases):
                self.by_name.setdefault(name_key(alias), o)
            for d in o.domains:
                self.by_domain.setdefault(d.lower(), o)

    def match_name(self, name: str) -> Outlet | None:
        hit = self.by_name.get(name_key(name))
        if hit is None and (host := host_of(name)):
            hit = self.match_domain(host)
        return hit

    def match_domain(self, host: str) -> Outlet | None:
        host = host.lower()
        parts = host.split(".")
        for i in range(len(parts) - 1):  # news.bbc.co.uk -> bbc.co.uk -> co.uk
            if hit := self.by_domain.get(".".join(parts[i:])):
                return hit
        return None

    def to_table(self) -> pa.Table:
        """Return the registry as a SOURCES table."""
        return from_rows(
            [
                {
                    "outlet_id": o.id,
                    "name": o.name,
                    "aliases": list(o.aliases),
                    "domains": list(o.domains),
                    "country": o.country,
                    "language": o.language,
                }
                for o in self.outlets
            ],
            SOURCES,
        )


def load_registry(raw: dict | None = None) -> Registry:
    """Return the outlet Registry from a dict shaped like data/outlets.json (default: that file)."""
    if raw is None:
        raw = json.loads(resources.files("newsetl").joinpath("data/outlets.json").read_text("utf-8"))
    return Registry(
        [
            Outlet(
                o["id"],
                o["name"],
                tuple(o.get("aliases", [])),
                tuple(o.get("domains", [])),
                o.get("country"),
                o.get("language"),
            )
            for o in raw["outlets"]
        ]
    )


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Return the packaged outlet registry, loaded once per process."""
    return load_registry()


def resolve_outlet(signals: dict, registry: Registry) -> dict:
    """Return outlet_id, outlet_name, outlet_known, outlet_method, outlet_raw for one article.

    The first signal the registry knows wins; when none is known, the first signal present is
    kept as an unknown outlet (flagged, never dropped).
    """
    first_unknown: dict | None = None
    for col, method in SIGNALS:
        value = signals.get(col)
        if not value:
            continue
        if col == "url":
            host = host_of(value)
            if not host:
                continue
            hit, raw = registry.match_domain(host), registrable_domain(host)
        else:
            raw = value.strip()
            if not name_key(raw):  # nothing but punctuation or spaces: no outlet name in it
                continue
            hit = registry.match_name(raw)
        if hit is not None:
            return {
                "outlet_id": hit.id,
                "outlet_name": hit.name,
                "outlet_known": True,
                "outlet_method": method,
                "outlet_raw": raw,
            }
        if first_unknown is None:
            first_unknown = {
                "outlet_id": slug(raw),
                "outlet_name": raw,
                "outlet_known": False,
                "outlet_method": method,
                "outlet_raw": raw,
            }
    return first_unknown or {
        "outlet_id": "unknown",
        "outlet_name": None,
        "outlet_known": False,
        "outlet_method": "none",
        "outlet_raw": None,
    }


def resolve_outlets(articles: pa.Table, registry: Registry) -> pa.Table:
    """Return `articles` with outlet_id, outlet_name, outlet_known, outlet_method, outlet_raw set."""
    cols = [c for c, _ in SIGNALS if c in articles.column_names]
    rows = articles.select(cols).to_pylist()
    decided = [resolve_outlet(r, registry) for r in rows]
    types = {
        "outlet_id": pa.string(),
        "outlet_name": pa.string(),
        "outlet_known": pa.bool_(),
        "outlet_method": pa.string(),
        "outlet_raw": pa.string(),
    }
    return with_columns(articles, {n: pa.array([d[n] for d in decided], t) for n, t in types.items()})
