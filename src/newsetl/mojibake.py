"""ftfy's mojibake test (ftfy.badness.is_bad), with the same answers, made cheap for clean text.

is_bad searches one regex of about 37 alternatives; Python's engine tries every alternative at every
position, so a 3,000-character Spanish or Russian article costs about 0.8 ms, most of cleaning's time
for non-ASCII text. Almost every alternative needs a character from a short list (a C1 control, a
currency sign next to an accented capital, a box-drawing character...), and a text that holds none of
an alternative's required characters cannot match that alternative anywhere. So `is_bad` looks at the
set of characters of the text and searches with only the alternatives that could match (usually none
or two); the search answers exactly as ftfy's, because the alternatives left out cannot match.

Written here because ftfy has no such fast path. The alternatives are read from ftfy's own regex when
this module is imported (so a new ftfy release brings its own rules); if that regex ever has a shape
this reading does not understand, `is_bad` is ftfy's own.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ftfy.badness import BADNESS_RE
from ftfy.badness import is_bad as ftfy_is_bad

try:  # the regex parser: public as sre_parse until 3.10, re._parser since 3.11
    from re import _constants as _sre_constants  # type: ignore[attr-defined]
    from re import _parser as _sre_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a Python whose re module is laid out differently
    _sre_parser = _sre_constants = None


def _charset(item: tuple) -> frozenset[str] | None:
    """Return the characters one parsed item matches, or None when it is not a plain set (\\w, [^...], x?)."""
    op, av = item
    c = _sre_constants
    if op is c.LITERAL:
        return frozenset(chr(av))
    if op is c.IN:
        out: set[str] = set()
        for sub_op, sub in av:
            if sub_op is c.LITERAL:
                out.add(chr(sub))
            elif sub_op is c.RANGE:
                out.update(map(chr, range(sub[0], sub[1] + 1)))
            else:  # a category or a negation: any character may match
                return None
        return frozenset(out)
    return None


def _split_top_level(pattern: str) -> list[str]:
    """Return the source of each top-level alternative of a regex (| outside brackets, groups and escapes)."""
    parts, depth, in_class, escaped, start = [], 0, False, False, 0
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]" or pattern[i - 1] == "["
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _alternatives() -> list[tuple[str, list[frozenset[str]]]] | None:
    """Return (source, required character sets) of each alternative of ftfy's regex, or None if unreadable."""
    if _sre_parser is None:
        return None
    try:
        parsed = _sre_parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
        if len(parsed) != 1 or parsed[0][0] is not _sre_constants.BRANCH:
            return None
        branches = parsed[0][1][1]
        sources = _split_top_level(BADNESS_RE.pattern)
        if len(sources) != len(branches):
            return None
        out = []
        for source, branch in zip(sources, branches, strict=True):
            # Each source must parse to exactly its branch: the split is then the regex's own.
            if repr(list(_sre_parser.parse(source, BADNESS_RE.flags))) != repr(list(branch)):
                return None
            sets = [s for s in map(_charset, branch) if s is not None]
            out.append((source, sets))
        return out
    except (re.error, TypeError, ValueError, IndexError):  # pragma: no cover - an unexpected regex shape
        return None


_ALTERNATIVES = _alternatives()


@lru_cache(maxsize=512)
def _search_for(which: tuple[int, ...]):  # noqa: ANN202 - a compiled pattern's bound search
    """Return the search of the regex made of the alternatives `which` of ftfy's regex."""
    assert _ALTERNATIVES is not None
    return re.compile("|".join(_ALTERNATIVES[i][0] for i in which), BADNESS_RE.flags).search


def is_bad(text: str) -> bool:
    """Return ftfy.badness.is_bad(text), searching only with the alternatives the text's characters allow."""
    if _ALTERNATIVES is None:
        return ftfy_is_bad(text)
    present = set(text)
    which = tuple(i for i, (_, sets) in enumerate(_ALTERNATIVES) if all(not s.isdisjoint(present) for s in sets))
    if not which:
        return False
    return _search_for(which)(text) is not None
