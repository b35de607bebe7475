"""Stop words: the stopwordsiso Chinese list plus the night-school feedback boilerplate.

The domain list (``data/stopwords_domain.txt``) holds requests, politeness, praise and the
"class / training / learning" words that appear in nearly every feedback line: they say
nothing about *what* a person wants to learn, so they would only pull unrelated lines
together. Both lists are read once and cached.

The class words (``data/class_words.txt``) are not stop words: they speak of the class itself
(its running, time, place, teacher: "办", "几期", "周末", "讲课"), not of a subject. A line whose
topic words are all class words asks for nothing (:func:`only_class_words`); in a line that
also names a subject they stay ("时间管理", "周末书法班").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import stopwordsiso

DATA_DIR = Path(__file__).with_name("data")
DOMAIN_STOPWORDS_FILE = DATA_DIR / "stopwords_domain.txt"
CLASS_WORDS_FILE = DATA_DIR / "class_words.txt"
# A count of sessions ("几期", "三次", "多几场"), a clock time ("七点") or a length ("半小时"):
# the class's arrangements, whatever the number.
_CLASS_PATTERN = re.compile(r"^(?:多|再)?[几一二两三四五六七八九十百半\d]+(?:个|个?(?:期|次|场|回|节|周|月|点|点半|点钟|小时|分钟))$")


def read_word_list(path: Path) -> list[str]:
    """Words of a one-word-per-line UTF-8 file; blank lines and ``#`` comments are skipped."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            words.append(word)
    return words


@lru_cache(maxsize=1)
def domain_stop_words() -> frozenset[str]:
    """The project's own feedback boilerplate (lower-cased)."""
    return frozenset(w.lower() for w in read_word_list(DOMAIN_STOPWORDS_FILE))


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """All stop words the tokenizer removes: stopwordsiso ``zh`` plus the domain list."""
    words = {w.strip().lower() for w in stopwordsiso.stopwords("zh") if w.strip()}
    return frozenset(words | domain_stop_words())


def is_stop_word(token: str) -> bool:
    """True when ``token`` (any case) is a stop word."""
    return token.lower() in stop_words()


@lru_cache(maxsize=1)
def class_words() -> frozenset[str]:
    """Words about the class itself, not a subject (lower-cased; see the module docstring)."""
    return frozenset(w.lower() for w in read_word_list(CLASS_WORDS_FILE))


def only_class_words(tokens: Sequence[str]) -> bool:
    """True when every one of ``tokens`` (at least one) speaks of the class itself: the line
    asks for nothing ("支持夜校", "希望多办几期", "时间能不能改到周末")."""
    return bool(tokens) and all(_is_class_word(t) for t in tokens)


# Light pieces jieba may glue to a class word ("能多办", "办得", "换个", "早点"): the word
# without them is what counts.
_CLASS_AFFIXES = re.compile(r"^(?:能|可以|多|再)?(.+?)(?:得|的|个|了|点|一下)?$")


def _is_class_word(token: str) -> bool:
    words = class_words()
    if token in words or _CLASS_PATTERN.match(token):
        return True
    bare = _CLASS_AFFIXES.match(token).group(1)
    return bare != token and (bare in words or bool(_CLASS_PATTERN.match(bare)))
