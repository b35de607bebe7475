"""新出现的需求: new lines that fit no topic, grouped as they arrive between retrains.

A request about something the store never had ("希望开一个太极拳班") fits no topic, and its
words are new to the model (太极拳 is not in its vocabulary), so the model's own space cannot
group such lines. What they share is a word: :func:`group_new_lines` groups them by the
most widely shared specific word (a token, or a known word inside one: 诈骗 in 防诈骗),
greedily, largest group first, and labels each group with the longest phrase around that
word most of its lines share ("太极拳班" when most say so, else "太极拳"). Lines that share
no such word with another line stay ungrouped. A retrain turns a group into a topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from recommender.model.labels import candidate_labels, phrases
from recommender.text.lexicon import morphemes, non_subject_words
from recommender.text.tokenize import pieces

# Fewest lines of a group.
MIN_GROUP_LINES = 2


@dataclass(frozen=True)
class NewGroup:
    """Positions (in the input) of the lines of one group, and its label."""

    label: str
    rows: tuple[int, ...]


def line_words(tokens: Sequence[str], generic: frozenset[str] | set[str]) -> set[str]:
    """The specific words of a line: its tokens and the known words inside them (two
    characters or more), without generic words, names, times and places."""
    names = non_subject_words()
    return {w for w in morphemes(tokens) if w not in generic and w not in names}


def group_new_lines(
    texts: Sequence[str], tokens: Sequence[Sequence[str]], generic: frozenset[str] | set[str] = frozenset()
) -> list[NewGroup]:
    """Groups of the lines ``texts`` (with their ``tokens``) that share a specific word,
    largest first (see the module docstring)."""
    words = [line_words(t, generic) for t in tokens]
    left = set(range(len(texts)))
    groups: list[NewGroup] = []
    while True:
        counts: Counter[str] = Counter(w for i in left for w in words[i])
        # The most shared word; among equals the longer (more specific) one, then by text.
        best = max(counts.items(), key=lambda wc: (wc[1], len(wc[0]), wc[0]), default=None)
        if best is None or best[1] < MIN_GROUP_LINES:
            break
        word = best[0]
        rows = tuple(sorted(i for i in left if word in words[i]))
        cuts = [pieces(texts[i]) for i in rows]
        line_phrases = [phrases(cut, set(tokens[i])) for cut, i in zip(cuts, rows)]
        # The label: the longest phrase with the word that most of the lines share, not one
        # that starts or ends inside a word jieba cut wrongly (as topic labels).
        label = next(iter(candidate_labels(line_phrases, [word], set(generic), cuts)), word)
        if not any(label in texts[i] for i in rows):
            label = word
        groups.append(NewGroup(label=label, rows=rows))
        left -= set(rows)
    return groups
