"""The analyzers of the two feature blocks: a line's words as they are, and its character
n-grams (``char_ngrams``).

They live in a module of their own, module-level, because a fitted model pickles its
vectorizers with a reference to them, and because both ``representation`` (the vectorizers)
and ``ngram_counts`` (the same n-grams counted in numpy) build on them. Models saved before
this module existed name ``recommender.model.representation.char_ngrams``, which still
resolves: that module re-exports both.
"""

from __future__ import annotations

from collections.abc import Sequence

# Character n-grams that end within this many characters of the end of a line's last
# segment count this many times (sublinear TF: weight 1 + ln 3 = 2.1 instead of 1): a short
# request usually names what it is about first and closes with what it asks ("…怎么办",
# "…多少钱", "…是什么原因"). PPMI basis only.
TAIL_CHARS = 3
TAIL_REPEATS = 3


def word_analyzer(tokens: Sequence[str]) -> Sequence[str]:
    """Tokens are already words (module-level so a fitted model pickles by reference)."""
    return tokens


def char_ngrams(tokens: Sequence[str], ngram_range: tuple[int, int] = (1, 3), tail: int = 0) -> list[str]:
    """Character n-grams inside each segment (never across punctuation or boilerplate);
    with ``tail`` > 0 those ending in the last ``tail`` characters of the last segment
    count ``TAIL_REPEATS`` times."""
    lo, hi = ngram_range
    grams = [tok[i : i + n] for tok in tokens for n in range(lo, min(hi, len(tok)) + 1) for i in range(len(tok) - n + 1)]
    if tail > 0 and tokens:
        last = tokens[-1]
        n_chars = len(last)
        for n in range(lo, min(hi, n_chars) + 1):
            for i in range(max(0, n_chars - tail - n + 1), n_chars - n + 1):
                grams.extend([last[i : i + n]] * (TAIL_REPEATS - 1))
    return grams
