"""What general Chinese says about a word, from the dictionaries jieba ships.

* :func:`non_subject_words`: place and person names, times and localities (jieba tags ``ns``,
  ``nr``, ``nrt``, ``nrfg``, ``t``, ``f``, and unknown words ending like a place: 西地省). "北京", "俄罗斯" or "最近" can be part of a topic's
  label ("北京高考") but never the only thing a topic is about.
* :func:`morphemes`: the known words inside a line's tokens, so that lines jieba cut
  differently ("消防安全", "消防通道") still share their subject (消防).
* :func:`general_idf`: the inverse document frequency of a word in jieba's own reference
  corpus (``jieba/analyse/idf.txt``): low for words common in any text ("问题" 4.0, "工作"
  4.2, "继续" 4.3), high for specific ones ("太极拳" 9.9, "灭火器" 11.1). Unknown words are
  rare ones. The topic model uses it as the prior of how specific a word is when its own
  corpus is too small to tell (``model/boilerplate.py``).
* :func:`is_common_noun`: words jieba's dictionary calls common nouns (太极拳, 灭火器, 螺纹钢),
  the words a request is about when they are new to the store.

Each is read once, lazily. ``fit`` uses all of them; the assignment score also reads
:func:`general_idf` and :func:`is_common_noun` when it serves (loaded by the service's
warm-up pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import jieba

from recommender.text.tokenize import dictionary_tags, is_known_word

NON_SUBJECT_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "t", "f"})
# jieba dictionary tags of things: nouns, other proper nouns and organisations (搅拌站 n,
# 酒吧 n), not verbs, adjectives or verbal nouns (协调 v, 有偿 vn).
THING_TAGS = frozenset({"n", "nz", "nt", "ng"})
# A word of three characters or more that ends with an administrative division is a place
# name even when jieba does not know it ("西地省", "长沙市", "星沙镇", "开发区").
PLACE_ENDINGS = frozenset("省市县区镇乡村")
# Not through ``import jieba.analyse``: that import opens the file and never closes it.
IDF_FILE = Path(jieba.__file__).with_name("analyse") / "idf.txt"


def non_subject_words() -> NonSubject:
    """The names, times and localities (see :class:`NonSubject`): ``word in
    non_subject_words()``."""
    return _NON_SUBJECT


class NonSubject:
    """Membership test for words that are never a topic's subject on their own: what
    jieba's dictionary tags as a name, time or locality, and place names it does not know
    (``PLACE_ENDINGS``)."""

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        return word in _tagged() or (len(word) >= 3 and word[-1] in PLACE_ENDINGS)


@lru_cache(maxsize=1)
def _tagged() -> frozenset[str]:
    return frozenset(word for word, tag in dictionary_tags() if tag in NON_SUBJECT_TAGS)


_NON_SUBJECT = NonSubject()


def glued_division(word: str) -> bool:
    """Whether ``word`` is an administrative division jieba glued to the unknown name after
    it: anonymised places are a code and a division (「A7县松雅湖」, 「A7县榔梨镇」), and jieba
    reads the code alone and guesses 县松雅湖 and 县榔 (县 + 榔梨镇). Such a word is cut
    across a name, so it is neither a keyword nor part of a label; a dictionary word (县城,
    市场, 区域) is not one."""
    return len(word) >= 2 and word[0] in PLACE_ENDINGS and not is_known_word(word)


# jieba dictionary tags of places and organisations that are not place names: place words
# (一中 s), organisations (公安局 nt).
SITE_TAGS = frozenset({"s", "nt"})


def names_a_place(word: str) -> bool:
    """Whether ``word`` is a division before a place, an organisation or a name: 县一中 (县 +
    一中, a place word of jieba's dictionary), 市二中, 县公安局, or a division glued to an
    unknown name (县松雅湖, see :func:`glued_division`). It names where something is (the
    county's first school), not a subject, even when jieba calls the whole a noun."""
    if glued_division(word):
        return True
    return len(word) >= 3 and word[0] in PLACE_ENDINGS and (word[1:] in _tagged() or word[1:] in _sites())


@lru_cache(maxsize=1)
def _sites() -> frozenset[str]:
    return frozenset(word for word, tag in dictionary_tags() if tag in SITE_TAGS)


def is_thing(word: str) -> bool:
    """Whether ``word`` names a thing: jieba's dictionary tags it a noun (``THING_TAGS``),
    or neither its dictionary nor its reference corpus knows it (ktv, 充电桩: new words
    are mostly names of things; 老旧 is in the reference corpus and is not one)."""
    return word in _things() or (not is_known_word(word) and general_idf(word) is None)


@lru_cache(maxsize=1)
def _things() -> frozenset[str]:
    # The nouns only (133,000 words, 15 MB), not a tag for every word (100 MB).
    return frozenset(word for word, tag in dictionary_tags() if tag in THING_TAGS)


# jieba dictionary tags of proper nouns among ``THING_TAGS``: other proper nouns (英语, 世界杯,
# 搜狐) and organisations (国务院); the rest (n, ng) are common nouns.
PROPER_THING_TAGS = frozenset({"nz", "nt"})


def is_common_noun(word: str) -> bool:
    """Whether jieba's dictionary tags ``word`` a common noun (``n`` or ``ng``: 太极拳, 灭火器,
    螺纹钢), not a name, a proper noun, a verb or an adjective (梅西, 英语, 首映, 稀少). A word
    the dictionary does not list (短视频, a word of the project's user dictionary) is not one."""
    return word in _things() and word not in _proper_things()


@lru_cache(maxsize=1)
def _proper_things() -> frozenset[str]:
    return frozenset(word for word, tag in dictionary_tags() if tag in PROPER_THING_TAGS)


@lru_cache(maxsize=1)
def _idf_table() -> dict[str, float]:
    table: dict[str, float] = {}
    with IDF_FILE.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2:
                table[parts[0]] = float(parts[1])
    return table


def general_idf(word: str) -> float | None:
    """IDF of ``word`` in jieba's reference corpus, or None for a word it does not list."""
    return _idf_table().get(word)


def morphemes(tokens: Sequence[str]) -> set[str]:
    """The words of two characters or more a line's tokens are made of: each token and the
    known words inside it (消防 in 消防安全 and 消防通道, 手机 in 智能手机, 诈骗 in 防诈骗), so
    lines that jieba cut differently still share their subject."""
    found = set()
    for tok in tokens:
        if len(tok) < 2:
            continue
        found.add(tok)
        for n in range(2, len(tok)):
            for i in range(len(tok) - n + 1):
                if is_known_word(tok[i : i + n]):
                    found.add(tok[i : i + n])
    return found


# General IDF at which a word counts as fully specific (太极拳 9.9, 补贴 7.1, 申请 5.9, 问题 4.0).
SPECIFIC_IDF = 8.0


def specificity(word: str) -> float:
    """How specific ``word`` is in general Chinese, in (0, 1]: its general IDF over
    ``SPECIFIC_IDF`` (1 for words jieba's reference corpus does not list: rare ones)."""
    idf = general_idf(word)
    return 1.0 if idf is None else max(0.05, min(1.0, idf / SPECIFIC_IDF))
