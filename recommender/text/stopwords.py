"""Stop words: the stopwordsiso Chinese list plus the night-school feedback boilerplate.

The domain list (``data/stopwords_domain.txt``) holds requests, politeness, praise and the
"class / training / learning" words that appear in nearly every feedback line: they say
nothing about *what* a person wants to learn, so they would only pull unrelated lines
together. Both lists are read once and cached.

The class words (``data/class_words.txt``) are not stop words: they speak of the class itself
(its running, time, place, teacher: "办", "几期", "周末", "讲课"), not of a subject. A line whose
topic words are all class words asks for nothing (:func:`only_class_words`); in a line that
also names a subject they stay ("时间管理", "周末书法班"). The class's things that are also
subjects (``data/class_things.txt``: "空调", "PPT", "停车") speak of the class only beside a
class word ("空调太冷", "PPT字太小"); alone ("想学PPT") they are a request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import stopwordsiso

DATA_DIR = Path(__file__).with_name("data")
DOMAIN_STOPWORDS_FILE = DATA_DIR / "stopwords_domain.txt"
CLASS_WORDS_FILE = DATA_DIR / "class_words.txt"
CLASS_THINGS_FILE = DATA_DIR / "class_things.txt"
# A count of sessions ("几期", "三次", "多几场"), a clock time ("七点") or a length ("半小时"):
# the class's arrangements, whatever the number.
_CLASS_PATTERN = re.compile(
    r"^(?:多|再)?[几一二两三四五六七八九十百半\d]+(?:个|个?(?:期|次|场|回|节|周|月|排|点|点半|点钟|小时|分钟)课?)$"
    # how one hears, sees and keeps up: "听不清", "看不见", "跟不上", "坐不住", "没拿到", "来不及"
    r"|^(?:没有?)?(?:听|看|跟|坐|站|打|拿|抢|挤|进|报|找|停|赶|来|发|关|开)?(?:不|得)?太?"
    r"(?:清楚|清|见|到|上|住|懂|开|了|下|进|及|着|出|严|好|下来|出来|上来|过来)$"
)


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


@lru_cache(maxsize=1)
def class_things() -> frozenset[str]:
    """The class's things that are also subjects (lower-cased; see the module docstring)."""
    return frozenset(w.lower() for w in read_word_list(CLASS_THINGS_FILE))


class Lexicon(NamedTuple):
    """What jieba's dictionary says of words, for :func:`only_class_words`."""

    adjectives: frozenset[str]  # tagged ``a``: after a degree word, how the class was ("太偏")
    function_words: frozenset[str]  # position, measure, pronoun, particle …: they name no subject
    frequency: Mapping[str, int]  # a word's count in the dictionary (0: not in it)


def only_class_words(tokens: Sequence[str], lexicon: Callable[[], Lexicon] | None = None) -> bool:
    """True when every one of ``tokens`` (at least one) speaks of the class itself, and at
    least one is a class word, not only a thing of the class: the line asks for nothing
    ("支持夜校", "希望多办几期", "时间能不能改到周末", "声音太小，后排听不清", "PPT字太小").

    With ``lexicon`` (asked for only when a token is not a class word): an adjective after a
    degree word is how the class was ("太偏", "有点 模糊"); a word of a closed class (position,
    measure, pronoun, particle: "最后", "中间") names no subject and may stand beside class
    words; and a word jieba made of class words that the dictionary does not hold, or holds
    as a rare compound ("屋子里", "下课时间", "灯太亮"), is read as those words."""
    if not tokens:
        return False
    things = class_things()
    said = False
    for i, token in enumerate(tokens):
        if _is_class_word(token) or (lexicon is not None and _says_how_it_was(tokens, i, lexicon())):
            said = True
        elif _bare(token) not in things and not (lexicon is not None and token in lexicon().function_words):
            return False
    return said


# Words of degree before an adjective: "太矮", "有点 偏", "不够 亮".
_DEGREE = re.compile(r"^(太|有点|有些|不够|过于)(.+)$")
_DEGREE_WORDS = frozenset(("太", "有点", "有些", "不够", "过于"))
# A dictionary word this frequent is a word of its own ("太阳", "太空"); rarer ones are
# jieba's compounds ("屋子里": 3, "太冷": 4), read by their parts.
_RARE_COMPOUND = 10


def _says_how_it_was(tokens: Sequence[str], i: int, lexicon: Lexicon) -> bool:
    token = tokens[i]
    if i > 0 and tokens[i - 1] in _DEGREE_WORDS and token in lexicon.adjectives:
        return True
    return lexicon.frequency.get(token, 0) < _RARE_COMPOUND and _made_of_class_words(token, lexicon)


def _made_of_class_words(token: str, lexicon: Lexicon) -> bool:
    """True when ``token`` is degree + adjective ("太旧"), or splits into class words, things
    of the class and degree + adjective, at least one of them not a thing ("屋子里" = 屋子 +
    里, "发群" = 发 + 群, "灯太亮")."""
    if len(token) > 8:
        return False
    things = class_things()
    # said[j]: None when token[:j] does not split; else whether a part so far is not a thing
    said: list[bool | None] = [False] + [None] * len(token)
    for j in range(1, len(token) + 1):
        for k in range(j):
            if said[k] is None or (k == 0 and j == len(token) and not _DEGREE.match(token)):
                continue
            piece = token[k:j]
            degree = _DEGREE.match(piece)
            if _is_class_word(piece) or (degree and degree.group(2) in lexicon.adjectives):
                said[j] = True
            elif piece in things:
                said[j] = bool(said[j]) or said[k]
    return bool(said[-1])


# Light pieces jieba may glue to a class word ("能多办", "办得", "换个", "早点", "太热",
# "不够", "站着"): the word without them is what counts.
_CLASS_AFFIXES = re.compile(r"^(?:能|可以|多|再|太|很|不|好|有点)?(.+?)(?:得|的|个|了|点|一下|着)?$")


def _bare(token: str) -> str:
    return _CLASS_AFFIXES.match(token).group(1)


def _is_class_word(token: str) -> bool:
    words = class_words()
    if token in words or _CLASS_PATTERN.match(token):
        return True
    bare = _bare(token)
    return bare != token and (bare in words or bool(_CLASS_PATTERN.match(bare)))
