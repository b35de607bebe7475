"""Topic labels that are phrases the learners wrote: "灭火器使用", "公众号排版", "人才购房补贴".

A label is a run of consecutive jieba pieces copied from the topic's lines, so it reads as
written and a word jieba cut in two ("公众" + "号") comes back whole. It starts and ends with
a topic word, holds a distinctive word of the topic, and is never a generic word on its own.

The choice (:func:`candidate_labels`): among the phrases around the topic's best keywords
(c-TF-IDF, specific words first), the one most of its lines share, a longer one preferred
when nearly as many do, and a longer phrase holding it when most of its lines use that
("充电" → "充电桩"), each phrase scored as that longer one where nearly all its lines
use it (「充电桩」, not 「电动车」 in fewer lines); at least two lines, at most
``MAX_LABEL_CHARS`` characters. A name, time or
locality ("北京", "最近") is never a label on its own, and a phrase that starts or ends inside
a word jieba cut wrongly in those lines (「拆除五一桥来建」: 五一 + 桥来 + 建) only when all
are. Larger topics choose first; a topic whose phrase is taken uses its next candidate, so
no two topics share a label.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

from recommender.text.excerpt import CLAUSE_BREAKS
from recommender.text.lexicon import glued_division, non_subject_words
from recommender.text.tokenize import is_known_word

MAX_LABEL_CHARS = 8
# Pieces in a phrase (at most).
MAX_PIECES = 3
# Keywords a label may be built around, and the weight of each character beyond two.
ANCHORS = 3
LENGTH_BONUS = 0.25
# A phrase gives way to a longer one holding it when more than this share of the lines
# that use it use the longer one too ("充电" → "充电桩").
EXTEND_SHARE = 0.5
# ... and when this share do, if the longer one joins another of the topic's anchor words
# to a single one ("购房" → "购房补贴", both among the topic's first keywords): the phrase
# then names two of the topic's main words, which a class on it covers. Measured on a
# topic of 39 message titles (28 say 购房, 21 补贴, 13 购房补贴: 0.46 of the 购房 lines).
# At 0.4 it changed 2-4 first candidates per set of 25-56 topics (户口 → 户口迁移, 退休 →
# 提前退休, 公积金 → 住房公积金); at 1/3 twice as many, among them 宣布 → 官方宣布 and
# nba → nba漫画. A further step ("人才购房补贴", 5 of those 13) is judged by EXTEND_SHARE.
EXTEND_ANCHOR_SHARE = 0.4
# A phrase is scored as the longer one it gives way to (see :func:`_chain_score`) when more
# than this share of its lines use that one ("充电" → "充电桩", 18 of 25 lines): nearly as
# many lines, not merely most. At 0.5, 2-3 line steps (方根 → 平方根的立方, 2 of 3; 时间 →
# 比赛时间, 4 of 7) took labels of the purity sets from 平方 and 赛程.
CREDIT_SHARE = 2 / 3
# Lines of a topic read for its label (the most central ones).
LABEL_LINES = 40
# Characters at a line's start that its label phrases are read from: all of a title or a
# short request. A longer line (a citizen message, a review) is read there and, beyond,
# in each clause that says one of the topic's anchor words, up to ``CLAUSE_REACH``
# characters on either side of the word (see :func:`label_parts`).
LABEL_CHARS = 80
CLAUSE_REACH = 16


def label_words(keywords: Sequence[str], generic: set[str] | frozenset[str]) -> list[str]:
    """The words a topic's label is built around: its first ``ANCHORS`` keywords that are
    neither generic nor a name, time or locality."""
    names = non_subject_words()
    return [w for w in keywords if w not in generic and w not in names][:ANCHORS]


def label_parts(text: str, anchors: Sequence[str]) -> list[str]:
    """The parts of a line its label phrases are read from, in order: a line of at most
    ``LABEL_CHARS`` characters whole; a longer one's first ``LABEL_CHARS`` characters and
    each clause beyond them that says one of ``anchors`` (:func:`label_words`), cut at
    ``CLAUSE_REACH`` characters from the word, NFKC-folded and lower-cased as tokens are.
    A message of 200-1,700 characters says its subject anywhere, often after a greeting
    and a place ("尊敬的领导：您好！我是A市B区C小区的业主，…"); read at its start only, a
    topic's label was said by a fifth of its lines. Only the clauses that can hold a label
    are cut: every label holds an anchor word."""
    if len(text) <= LABEL_CHARS:
        return [text]
    lowered = unicodedata.normalize("NFKC", text).lower()
    spans: list[tuple[int, int]] = []
    for word in anchors:
        at = lowered.find(word) if word else -1
        while at >= 0:
            end = at + len(word)
            start, stop = at, end
            while start > max(0, at - CLAUSE_REACH) and lowered[start - 1] not in CLAUSE_BREAKS:
                start -= 1
            while stop < min(len(lowered), end + CLAUSE_REACH) and lowered[stop] not in CLAUSE_BREAKS:
                stop += 1
            if stop > LABEL_CHARS:
                spans.append((start, stop))
            at = lowered.find(word, end)
    merged: list[list[int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [text[:LABEL_CHARS]] + [lowered[start:stop] for start, stop in merged]


def phrases(pieces: Sequence[str], content: set[str]) -> set[str]:
    """Runs of up to ``MAX_PIECES`` consecutive ``pieces`` that start with a content piece
    of two or more characters (a token the tokenizer kept: never "型基金"), end with a
    content piece ("公众" + "号": "公众号") and hold no punctuation or space, nor a division
    jieba glued to the name after it (县松雅湖: see ``lexicon.glued_division``)."""
    found: set[str] = set()
    m = len(pieces)
    starts = {p for p in content if len(p) >= 2}
    names = non_subject_words()  # "楼道" + "里" is no word
    for i in range(m):
        if pieces[i] not in starts:
            continue
        text = ""
        for j in range(i, min(m, i + MAX_PIECES)):
            piece = pieces[j]
            if not any(ch.isalnum() for ch in piece) or glued_division(piece):
                break
            text += piece
            if len(text) > MAX_LABEL_CHARS:
                break
            # A one-character piece ends a phrase only right after its first piece, where it
            # completes a word jieba cut ("公众" + "号"), never after a particle ("…的骗").
            if piece in content and len(text) >= 2 and (len(piece) >= 2 or (j == i + 1 and piece not in names)):
                found.add(text)
    return found


def candidate_labels(
    line_phrases: Sequence[set[str]],
    keywords: Sequence[str],
    generic: set[str],
    line_pieces: Sequence[Sequence[str]] = (),
) -> list[str]:
    """Label candidates of one topic, best first, from the phrases of its lines: phrases
    that hold one of its first ``ANCHORS`` keywords, by the share of lines that have them,
    a longer phrase counting ``LENGTH_BONUS`` more per character ("公众号" in every line
    beats "公众号排版" in a third of them, "人才购房补贴" in most beats "补贴"). A phrase
    that starts or ends inside a word jieba cut wrongly in the lines (``line_pieces``: the
    pieces the phrases were read from) comes after all others: 拆除五一桥来 of
    「拆除五一桥来建」 (see :func:`_cut_inside`); it is a topic's label only when all its
    phrases are, which reads better than its keywords, cut the same way."""
    n = len(line_phrases)
    if n == 0:
        return []
    counts = Counter(p for ps in line_phrases for p in ps)
    names = non_subject_words()
    anchors = label_words(keywords, generic)
    scored = []
    for phrase, count in counts.items():
        if count < min(2, n) or not any(a in phrase for a in anchors):
            continue
        if phrase in names or _generic_end(phrase, generic):
            continue
        cut = _cut_inside(phrase, line_pieces)
        scored.append((cut, -(count / n) * (1.0 + LENGTH_BONUS * (len(phrase) - 2)), -count, phrase))
    scored.sort()
    ranked = [p for _, _, _, p in scored]
    whole = [p for cut, _, _, p in scored if not cut]
    if whole:
        chains = {p: _extended(p, whole, counts, anchors) for p in whole}
        first = min(range(len(whole)), key=lambda i: (-_chain_score(chains[whole[i]], counts, line_phrases), i))
        ranked.remove(best := chains[whole[first]][-1])
        ranked.insert(0, best)
    return ranked


def _chain_score(chain: Sequence[str], counts: Counter[str], line_phrases: Sequence[set[str]]) -> float:
    """The score of a phrase read as the longest one of its ``chain`` (see :func:`_extended`)
    that each line holds, as far as each step keeps more than ``CREDIT_SHARE`` of the lines:
    "充电" in 25 of 33 lines, "充电桩" in 18 of them, scores as 18 lines of three characters
    and 7 of two, so it beats "电动车" in 21 lines, whose third character alone put it
    ahead of "充电" (the topic was labelled 「电动车」 and read as a vehicle topic). Each line
    counts once, with what the label says of it: a line holding only "充电" gains nothing
    from the "桩". A phrase that gives way to none scores as before: its lines' share, a
    longer phrase ``LENGTH_BONUS`` more per character."""
    steps = 1
    while steps < len(chain) and counts[chain[steps]] > CREDIT_SHARE * counts[chain[steps - 1]]:
        steps += 1
    chain = chain[:steps]
    total = 0.0
    for held in line_phrases:
        longest = max((len(p) for p in chain if p in held), default=0)
        if longest:
            total += 1.0 + LENGTH_BONUS * (longest - 2)
    return total / max(len(line_phrases), 1)


def _extended(phrase: str, ranked: Sequence[str], counts: Counter[str], anchors: Sequence[str] = ()) -> list[str]:
    """``phrase`` and the longer candidates it gives way to, in turn: the longer candidate
    holding it that more than ``EXTEND_SHARE`` of its lines use (the most used one;
    repeated, so "充电" → "充电桩" → "充电桩安装"), or ``EXTEND_ANCHOR_SHARE`` of them when it
    joins a second anchor word to the only one ``phrase`` holds ("购房" → "购房补贴")."""

    def held(text: str) -> int:
        return sum(1 for a in anchors if a in text)

    chain = [phrase]
    while True:
        longer = [
            p for p in ranked
            if len(p) > len(phrase) and phrase in p
            and counts[p] > (EXTEND_ANCHOR_SHARE if held(phrase) == 1 < held(p) else EXTEND_SHARE) * counts[phrase]
        ]
        if not longer:
            return chain
        phrase = max(longer, key=lambda p: (counts[p], len(p), p))
        chain.append(phrase)


def _cut_inside(phrase: str, line_pieces: Sequence[Sequence[str]]) -> bool:
    """Whether ``phrase`` starts or ends inside a word jieba cut wrongly: 「A7县江背镇乌川湖村」
    into 县江 + 背镇 + 乌川 + 湖村, 「拆除五一桥来建」 into 五一 + 桥来 + 建. An end of it is
    judged where, in most of the lines it is read from (``line_pieces``: their jieba
    pieces), the same piece is beyond it, and the two are not both words of jieba's
    dictionary ("供水" + "问题" is a sure cut): the phrase is cut there when the piece at
    its end mostly has the same character on that side (see :func:`is_fragment`) and is
    only jieba's guess (桥来, 乌川), or, a dictionary word, the piece beyond it mostly has
    the same character on its other side too (五一 + 桥来). A free word beside it has
    varied ones ("县" of 「B6县」 before 农民工). A guess that the particle 的 mostly follows
    is a modifier, and the phrase ends inside the noun phrase it begins: 「网格里新来」 of
    「网格里新来的租户」 (新来 is jieba's guess; a dictionary or Latin word before 的,
    「居住证办理」 of 「居住证办理的流程」 or 「反诈中心app」 of 「反诈中心APP的使用」, ends a
    phrase)."""
    texts = ["".join(cut) for cut in line_pieces]
    for side, (runs, pairs) in enumerate(_neighbours(phrase, line_pieces)):
        if not pairs or (top := pairs.most_common(1)[0])[1] <= runs / 2:
            continue
        inner, outer = top[0]
        after = side == 1
        if after and outer == "的" and _guessed(inner) and _followed_by(inner, "的", texts):
            return True
        if is_fragment(inner, texts, before=not after, after=after) and (
            not is_known_word(inner) or is_fragment(outer, texts, before=after, after=not after)
        ):
            return True
    return False


def _guessed(piece: str) -> bool:
    """Whether ``piece`` is a word of Chinese characters that jieba's dictionary does not
    know: its guess (新来), not a Latin word ("app") or a dictionary word."""
    return all("\u4e00" <= ch <= "\u9fff" for ch in piece) and not is_known_word(piece)


def _followed_by(word: str, char: str, lines: Sequence[str]) -> bool:
    """Whether ``char`` follows ``word`` in ``FRAGMENT_SHARE`` of its uses in ``lines``
    (``FRAGMENT_MIN_USES`` at least)."""
    uses, _, following = _beside(word, lines)
    return uses >= FRAGMENT_MIN_USES and following[char] >= FRAGMENT_SHARE * uses


def _neighbours(phrase: str, line_pieces: Sequence[Sequence[str]]) -> list[tuple[int, Counter[tuple[str, str]]]]:
    """Before and after ``phrase``, where it is a run of whole pieces of a line: how many
    such runs, and how often each (piece at its end, piece beyond it) meets there when the
    two are not both dictionary words."""
    runs = 0
    pairs: tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]] = (Counter(), Counter())
    for cut in line_pieces:
        index, offset = {0: 0}, 0
        for k, piece in enumerate(cut):
            offset += len(piece)
            index[offset] = k + 1
        text = "".join(cut)
        start = text.find(phrase)
        while start >= 0:
            i, j = index.get(start), index.get(start + len(phrase))
            if i is not None and j is not None:
                runs += 1
                if i > 0 and not _dictionary_pair(cut[i], cut[i - 1]):
                    pairs[0][cut[i], cut[i - 1]] += 1
                if j < len(cut) and not _dictionary_pair(cut[j - 1], cut[j]):
                    pairs[1][cut[j - 1], cut[j]] += 1
            start = text.find(phrase, start + 1)
    return [(runs, pairs[0]), (runs, pairs[1])]


def _dictionary_pair(inner: str, outer: str) -> bool:
    """Whether both pieces are words of jieba's dictionary of two characters or more."""
    return all(len(w) >= 2 and is_known_word(w) for w in (inner, outer))


def _generic_end(phrase: str, generic: set[str]) -> bool:
    """Whether ``phrase`` is, starts or ends with a generic word of two characters or more
    ("很多杂物", "知道去哪办"). A word of the dictionary is judged whole: "乱收费" and "公交车"
    name a subject even on a message board where "收费" and "公交" are boilerplate."""
    if phrase in generic:
        return True
    if is_known_word(phrase):
        return False
    return any(phrase[:n] in generic or phrase[-n:] in generic for n in range(2, len(phrase)))


def choose_labels(
    candidates: Sequence[Sequence[str]],
    sizes: Sequence[int],
    fallback: Sequence[Sequence[str]],
) -> list[str]:
    """One distinct label per topic: larger topics choose first among their
    ``candidates``; a topic left without one combines its best keyword with the next
    (``fallback``: each topic's keywords), e.g. "火车票（广州）"."""
    k = len(candidates)
    labels = [""] * k
    taken: set[str] = set()
    for t in sorted(range(k), key=lambda t: (-sizes[t], t)):
        choice = next((c for c in candidates[t] if c not in taken), None)
        if choice is None:
            words = [w for w in fallback[t] if w] or ["其他"]
            head = candidates[t][0] if candidates[t] else words[0]
            choice = next((f"{head}（{w}）" for w in words if w not in head and f"{head}（{w}）" not in taken), None)
            n = 2
            while choice is None or choice in taken:
                choice = f"{head}（{n}）"
                n += 1
        labels[t] = choice
        taken.add(choice)
    return labels


def theme_label(
    topic_labels: Sequence[str],
    topic_keywords: Sequence[Sequence[str]],
    usage: Sequence[dict[str, int]],
    sizes: Sequence[int],
    generic: set[str],
    lines: Sequence[str] = (),
) -> str:
    """A theme's label: the word that is a keyword of the most of its topics, then in the
    most of its lines ("诈骗" over 冒充公检法, 刷单诈骗 and 防范电信诈骗); the label of its
    largest topic when no word is a keyword of half of them and two at least (a word two of
    six topics mention, 车位 beside 补课 and 乱收费, does not name them all). The word must
    be inside one of the topics' own labels: a keyword the topics share that none is named
    by is an aspect of their lines (小孩 beside 入学, 户口迁移 and 读书; 格式 beside
    公文写作, 通知的写法 and 标题), not what they are about. ``usage[t]``:
    how many lines of topic t use each word; ``sizes[t]``: its lines; ``lines``: some of
    the theme's lines, where a word that is only part of a longer string is no name (see
    :func:`is_fragment`)."""
    if len(topic_labels) == 1:
        return topic_labels[0]
    names = non_subject_words()
    topics_using: Counter[str] = Counter(w for words in topic_keywords for w in set(words))
    lines_using: Counter[str] = Counter()
    for used in usage:
        lines_using.update(used)
    best = [
        (topics_using[w], lines_using[w], w)
        for w in topics_using
        if topics_using[w] >= max(2, len(topic_labels) / 2) and len(w) >= 2 and w not in generic and w not in names and is_known_word(w)
        and not is_fragment(w, lines) and any(w in label for label in topic_labels)
    ]
    if best:
        return max(best)[2]
    return topic_labels[max(range(len(sizes)), key=lambda t: (sizes[t], -t))]


# A word is a fragment of its lines when at least this share of its uses there (and
# ``FRAGMENT_MIN_USES`` at least) have the same character beside it on one side: jieba cut
# 公众号 into 公众 + 号 and 家里有失能老人 into 有失 + 能 + 老人, and 「公众」 and 「有失」
# named the demo store's themes over 公众号排版 and 失能老人照护.
FRAGMENT_SHARE = 0.8
FRAGMENT_MIN_USES = 3


def is_fragment(word: str, lines: Sequence[str], before: bool = True, after: bool = True) -> bool:
    """Whether ``word`` is, in ``lines``, mostly part of the same longer string: the same
    Chinese character (not 的) right after it, or right before it (see ``FRAGMENT_SHARE``;
    ``before`` / ``after``: whether that side is looked at)."""
    uses, preceding, following = _beside(word, lines)
    if uses < FRAGMENT_MIN_USES:
        return False
    for side in [chars for chars, looked in ((preceding, before), (following, after)) if looked]:
        char, n = side.most_common(1)[0]
        if _bonds(char) and n >= FRAGMENT_SHARE * uses:
            return True
    return False


def _beside(word: str, lines: Sequence[str]) -> tuple[int, Counter[str], Counter[str]]:
    """How many times ``word`` is in ``lines``, and the characters before and after it
    ("" at a line's start or end)."""
    preceding: Counter[str] = Counter()
    following: Counter[str] = Counter()
    uses = 0
    for line in lines:
        start = line.find(word)
        while start >= 0:
            uses += 1
            end = start + len(word)
            preceding[line[start - 1] if start > 0 else ""] += 1
            following[line[end] if end < len(line) else ""] += 1
            start = line.find(word, end)
    return uses, preceding, following


def _bonds(char: str) -> bool:
    """A character that makes a longer word with its neighbour: Chinese, not the particle 的."""
    return len(char) == 1 and "\u4e00" <= char <= "\u9fff" and char != "的"
