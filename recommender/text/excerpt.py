"""A quote of a long line, cut readably around the words a topic is named by.

A topic's quotes are whole feedback lines. A title or a class comment (10–40 characters)
reads at a glance; a citizen message or a product review of 200–1,500 characters does not:
shown whole it fills a card, and cut at its start ("投诉西地省教育考试院，西地省成考招生报名系统
一直不能预约上…") it often stops before the part that says the topic. :func:`excerpt` keeps
a short line as it is and cuts a long one to about ``QUOTE_CHARS`` characters around the
first place that says the topic's label (else one of its keywords): from the start of that
sentence (or clause, when the sentence began long before), to a sentence or clause end
after it where one is near, with 「…」 where text was left out. Only what is shown is cut:
the model keeps the whole line (quotes are matched to stored lines when a line is hidden
or withdrawn).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CLAUSE_BREAKS", "ELLIPSIS", "QUOTE_CHARS", "excerpt"]

#: Characters of a quote shown (about two lines of a card); a line this long or shorter is whole.
QUOTE_CHARS = 90
ELLIPSIS = "…"
# Sentence ends and clause ends (full-width and ASCII) a cut prefers to fall on.
_SENTENCE_ENDS = frozenset("。！？!?；;\n")
_CLAUSE_ENDS = frozenset("，,、：:）)」』】 ")
#: Characters that end a sentence or a clause.
CLAUSE_BREAKS = _SENTENCE_ENDS | _CLAUSE_ENDS
# The part of the quote before the topic's words is at most this share of it: the words
# stay near the start, where a reader looks first.
_LEAD_SHARE = 0.4


def _first_mention(text: str, words: Sequence[str]) -> tuple[int, int]:
    """Start and end of the first of ``words`` (in their order of preference) in ``text``,
    case-insensitive; (0, 0) when none is there."""
    lowered = text.lower()
    for word in words:
        if word and (at := lowered.find(word.lower())) >= 0:
            return at, at + len(word)
    return 0, 0


def _start(text: str, hit: int, lead: int) -> int:
    """Where the quote starts: just after the last sentence end before ``hit`` when it is at
    most ``lead`` characters back (the start of the sentence that says the topic), else
    just after the earliest clause end that is (as much of that sentence as fits), else
    ``lead`` characters back."""
    floor = max(0, hit - lead)
    for i in range(hit - 1, floor - 1, -1):
        if text[i] in _SENTENCE_ENDS:
            return i + 1
    if floor == 0:
        return 0
    for i in range(floor, hit):
        if text[i] in _CLAUSE_ENDS:
            return i + 1
    return floor


def _end(text: str, start: int, mention_end: int, width: int) -> int:
    """Where the quote ends: after the last sentence end within ``width`` characters of
    ``start`` and not before the mention's end, else the last clause end, else at ``width``."""
    limit = min(len(text), start + width)
    if limit == len(text):
        return limit
    for ends in (_SENTENCE_ENDS, _CLAUSE_ENDS):
        for i in range(limit - 1, max(mention_end, start + width // 2) - 1, -1):
            if text[i] in ends:
                return i + 1
    return limit


def excerpt(text: str, words: Sequence[str], width: int = QUOTE_CHARS) -> str:
    """``text`` itself when it has at most ``width`` characters; else about ``width`` of
    them around the first of ``words`` it holds (the topic's label first, then its
    keywords), starting at that sentence or clause, with 「…」 where text was cut."""
    text = text.strip()
    if len(text) <= width:
        return text
    hit, mention_end = _first_mention(text, words)
    start = _start(text, hit, int(width * _LEAD_SHARE)) if hit else 0
    end = _end(text, start, mention_end, width)
    body = text[start:end].strip()
    if end < len(text):
        body = body.rstrip("".join(_CLAUSE_ENDS))
    return (ELLIPSIS if start > 0 else "") + body + (ELLIPSIS if end < len(text) else "")
