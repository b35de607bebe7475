"""Stop words: the stopwordsiso Chinese list plus the night-school feedback boilerplate.

The domain list (``data/stopwords_domain.txt``) holds requests, politeness, praise and the
"class / training / learning" words that appear in nearly every feedback line: they say
nothing about *what* a person wants to learn, so they would only pull unrelated lines
together. Both lists are read once and cached.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import stopwordsiso

DATA_DIR = Path(__file__).with_name("data")
DOMAIN_STOPWORDS_FILE = DATA_DIR / "stopwords_domain.txt"


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
