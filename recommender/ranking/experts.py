"""Which experts can teach a suggested topic (pure functions, no database).

An expert matches a topic when one of their subject phrases

- is found, as written, in the topic's label, a keyword or a representative line (「心肺复苏」
  in 「想学心肺复苏和急救」), or holds one of its keywords (「消防」 in 「消防安全知识」), or
- shares a word with the topic's label or keywords once both are cut into words by the
  project's tokenizer (jieba, stop words removed): 「消防安全知识」 → 「消防安全」 matches a topic
  with the keyword 「消防安全」.

Single-character words never match on their own (「课」 would match everything). The experts
are listed in directory order, each once; a topic with none says 「需要邀请讲师」 (the caller
shows :data:`NO_EXPERT`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from recommender.text.tokenize import tokenize

__all__ = ["NO_EXPERT", "ExpertEntry", "match_experts"]

#: What a suggestion says when no expert in the directory matches it.
NO_EXPERT = "需要邀请讲师"


@dataclass(frozen=True)
class ExpertEntry:
    """What matching needs of an expert (hashable: part of the ranking cache's key)."""

    name: str
    department: str
    subjects: tuple[str, ...]


def _words(texts: Iterable[str], cut: Callable[[str], list[str]]) -> set[str]:
    return {w for text in texts for w in cut(text) if len(w) >= 2}


def match_experts(
    topic: Mapping[str, object],
    experts: Sequence[ExpertEntry],
    *,
    cut: Callable[[str], list[str]] = tokenize,
) -> list[dict[str, str]]:
    """``[{"name", "department"}]`` of the experts whose subjects match ``topic`` (a mapping
    with ``label``, ``keywords`` and ``examples``, as a suggestion has)."""
    label = str(topic.get("label") or "")
    keywords = [str(k) for k in topic.get("keywords") or ()]
    examples = [str(e) for e in topic.get("examples") or ()]
    haystack = [label, *keywords, *examples]
    topic_words: set[str] | None = None
    out = []
    for expert in experts:
        found = False
        for phrase in expert.subjects:
            phrase = phrase.strip()
            if not phrase:
                continue
            if any(phrase in text for text in haystack if text) or any(
                len(k) >= 2 and k in phrase for k in keywords
            ):
                found = True
                break
            if topic_words is None:
                topic_words = _words([label, *keywords], cut) | {k for k in keywords if len(k) >= 2}
            if _words([phrase], cut) & topic_words:
                found = True
                break
        if found:
            out.append({"name": expert.name, "department": expert.department})
    return out
