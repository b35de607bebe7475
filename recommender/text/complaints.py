"""A complaint about the class that names one more thing ("外面装修的声音太吵了", "讲义上的字太小，
老人看不清", "投影仪老是连不上", "教室里蚊子太多"): class feedback, not a request.

:func:`recommender.text.stopwords.only_class_words` wants every word of a line to speak of the
class; a complaint often names one thing besides (装修, 老人, 蚊子) that is also a subject. Such a
line still asks for nothing when it has the shape of a complaint — a degree word before what it
says ("太吵", "有点 哑"), a verb with 不 and its result ("连不上", "擦 不 干净", "来 不了"), or
something missing ("没灯", "没 地方") — and no sign of a request: a question of how or who ("怎么",
"如何", "找谁", "…吗"), learning or teaching ("学", "教", "讲讲", "了解"), or a subject's
know-how ("知识", "技巧", "入门", "政策"). "手机字太小怎么调大" and "老人听不清电话怎么办" stay
requests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from recommender.text.stopwords import (
    DEGREE_WORDS,
    RARE_COMPOUND,
    Lexicon,
    class_things,
    is_class_word,
    is_count,
    says_how_it_was,
    stop_words,
)

# Words beside the class's own that a complaint may name: one ("外面 装修 的 声音 太吵").
MAX_OTHER_WORDS = 1

# A piece holding one of these asks something: how, who, which, why, a yes-no question, or a
# subject's know-how.
_ASKING = re.compile(r"怎|如何|咋|谁|哪|为什么|为啥|吗|知识|常识|技巧|方法|办法|入门|攻略|教程|政策|规定|推荐")
# Pieces of learning and teaching ("学", "学会", "想学", "教", "讲讲", "了解").
_LEARNING = re.compile(r"^(?:想|要)?(?:学|教(?!室|师|材|学楼)|讲讲|了解)")
# The result after 不 ("听 不 清", "擦 不 干净", "来 不了", "连不上").
_RESULTS = frozenset(("清", "清楚", "见", "到", "上", "住", "懂", "开", "了", "下", "进", "及", "着", "出", "严",
                      "动", "完", "来", "去", "起", "干净", "下来", "出来", "上来", "过来", "起来", "进去"))
_VERB_NOT_RESULT = re.compile(r"^(.?)不(.+)$")
_MISSING = ("没有", "没")


def asks_something(pieces: Sequence[str]) -> bool:
    """True when a piece of the line asks how or who, or speaks of learning (see the module
    docstring)."""
    return any(_ASKING.search(p) or _LEARNING.match(p) for p in pieces)


def complains_of_class(pieces: Sequence[str], words: Sequence[str], lexicon: Lexicon) -> bool:
    """True when the line — jieba's ``pieces`` (stop words included) and its topic ``words`` —
    complains of the class: no sign of a request, the shape of a complaint, at least one class
    word, and at most ``MAX_OTHER_WORDS`` words that are neither the class's nor part of the
    complaint's shape. The class word must be one besides the shape ("有点 舍不得" says nothing of
    the class: "来一首有点舍不得" asks for a song; "找不到文件", "房产证办不下来" are not about it)
    and more than a count ("我叫了好几次物业都不来" is about the property manager)."""
    if not words or asks_something(pieces):
        return False
    shaped = _shape(pieces, lexicon)
    if shaped is None:
        return False
    said = False
    others = 0
    things = class_things()
    for i, token in enumerate(words):
        if token in shaped:
            continue
        if is_class_word(token) or says_how_it_was(words, i, lexicon):
            said = said or not is_count(token)
        elif token in things or token in lexicon.function_words:
            continue
        else:
            others += 1
    return said and others <= MAX_OTHER_WORDS


def _shape(pieces: Sequence[str], lexicon: Lexicon) -> frozenset[str] | None:
    """The pieces that make a complaint's shape, or None when the line has none."""
    parts: set[str] = set()
    spoken = [p.strip() for p in pieces]
    for i, piece in enumerate(spoken):
        after = spoken[i + 1] if i + 1 < len(spoken) else ""
        before = spoken[i - 1] if i else ""
        if piece in DEGREE_WORDS and (len(after) == 1 or after in lexicon.adjectives):  # "太 多", "有点 哑"
            parts.update((piece, after))
        elif piece.startswith("太") and _degree_compound(piece, lexicon):  # "太吵", "太紧"
            parts.add(piece)
        elif piece == "不" and (after in _RESULTS or after in lexicon.adjectives):  # "擦 不 干净"
            parts.update((piece, after) + ((before,) if len(before) == 1 and before not in stop_words() else ()))
        elif (found := _VERB_NOT_RESULT.match(piece)) and found.group(2) in _RESULTS:  # "连不上", "扫 不了"
            parts.add(piece)
            if not found.group(1) and len(before) == 1 and before not in stop_words():
                parts.add(before)
        elif piece in _MISSING and after:  # "没 地方", "没有 扶手" (what is missing is a word of its own)
            parts.add(piece)
        elif piece.startswith("没") and len(piece) == 2:  # "没灯"
            parts.add(piece)
    return frozenset(parts) if parts else None


def _degree_compound(piece: str, lexicon: Lexicon) -> bool:
    """"太吵", "太紧": 太 and an adjective, or a rare word of the dictionary ("太极拳" is not)."""
    rest = piece[1:]
    return bool(rest) and (rest in lexicon.adjectives or lexicon.frequency.get(piece, 0) < RARE_COMPOUND)
