"""Chinese tokenization for topic modelling: jieba words minus everything that carries no topic.

``tokenize`` is a module-level function so that joblib pickles it by reference inside a
fitted model. It uses a private ``jieba.Tokenizer`` (never the global one, which other code
may change), built lazily on first use with the project's user dictionary
(``data/user_dict.txt``) and the operator's one (``Settings.user_dict``), so local terms such
as 网格员, 楼栋长 or 星光夜校 stay whole.

Removed: stop words (see :mod:`recommender.text.stopwords`), punctuation, digits, emoji,
whitespace, the placeholders left by masking (``[手机号]``, ``[身份证号]`` …), links and a closing
request that names nothing ("……，请尽快处理", "望领导重视", "请相关部门尽快解决"; see
:func:`closing_request_start`). A line whose words all speak of the class itself ("支持夜校",
"希望多办几期", "座位不够": :func:`recommender.text.stopwords.only_class_words`) has no words: it asks
for nothing. Full-width forms are folded by NFKC and Latin letters are
lower-cased.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path

import jieba

from recommender.text.stopwords import DATA_DIR, Lexicon, domain_stop_words, only_class_words, stop_words

__all__ = [
    "PROJECT_USER_DICT",
    "char_segments",
    "char_segments_many",
    "closing_request_start",
    "dictionary_tags",
    "tokenize_many",
    "is_known_word", "load_user_dict", "normalize_text", "pieces", "reset_tokenizer", "tokenize"]

logger = logging.getLogger(__name__)

PROJECT_USER_DICT = DATA_DIR / "user_dict.txt"

# Placeholders written by recommender.text.masking: a short Chinese name in square
# brackets, e.g. "[手机号]". Matched generally so that new placeholder kinds are dropped too.
_PLACEHOLDER = re.compile(r"\[[\u3400-\u9fff]{1,6}\]")
_NUMBER = re.compile(r"^[\d.,%]+$")
# A spreadsheet formula or DDE payload pasted into a form ("=cmd|' /C calc'!A0",
# "=HYPERLINK(…)"): from "=", "+" or "@" at the start of the text or after a space up to
# the next Chinese character. Its pieces ("cmd", "a0") are not words anybody wrote.
_FORMULA = re.compile(r"(?:^|(?<=\s))[=+@][^\u3400-\u9fff]*")
# Latin tokens are kept when they look like words or product names: two or more letters
# ("excel", "wps", "win10"), or a mobile generation ("5g"). Cell references and codes
# such as "a0", "x1" or "b2" are dropped.
# A link pasted into a message ("https://baidu.com/", "www.example.cn/a?b=1", or one an export
# cut short: "https:/"): its pieces ("https", "com", "baidu") are no words the writer used
# about the subject, yet every long message that carries one shares them, and on 495 city
# messages a topic of 8 such lines was suggested first as 「https（国务院）」.
_LINK = re.compile(r"(?:https?|ftp):/*[!-~]*|www\.[!-~]+")
_LATIN_WORD = re.compile(r"^(?=(?:[^a-z]*[a-z]){2})[a-z0-9.+#-]+$|^\d+g$")

# A closing request: a marker asking the reader to act, then at most an addressee, adverbs
# and light verbs, then ONE action verb, then only particles, thanks or punctuation
# ("，请尽快处理", "，望领导重视", "，请相关部门尽快解决！", "，希望早日解决，谢谢"). It asks
# someone to act on what the line already said and names nothing itself: when a form or a
# platform appends the same closing to every message, its verb was in every line and made
# the whole corpus one topic. A request that names something is not a closing ("请讲讲维修":
# the verb is the object of a teaching verb; "请尽快安排消防课程": a noun follows).
_CLOSING_MARKERS = frozenset({"请", "恳请", "烦请", "敬请", "还请", "望", "盼", "务必", "麻烦", "希望"})
# These are also nouns or other verbs ("江苏希望大增", "观望"): a closing only after punctuation.
_CLAUSE_MARKERS = frozenset({"希望", "望", "盼"})
_CLOSING_ADDRESSEES = frozenset(
    {"部门", "有关部门", "相关部门", "主管部门", "职能部门", "领导", "政府", "上级", "单位", "有关单位",
     "相关单位", "你们", "您", "相关", "有关", "主管", "各"}
)
_CLOSING_ADVERBS = frozenset(
    {"尽快", "及时", "早日", "尽早", "立即", "马上", "赶快", "赶紧", "抓紧", "务必", "切实", "认真", "对此",
     "能", "能够", "可以", "早点", "快点", "予以", "给予", "加以", "进行", "帮忙", "帮助", "协助"}
)
_CLOSING_TRAILERS = frozenset({"一下", "好", "为盼", "为", "盼", "为谢"})
# jieba dictionary tags of action words (verbs, verbal nouns, adjectives used as verbs:
# 处理 v, 调查 vn, 落实 a); a noun ("消防安全", "电梯") is never the verb of a closing.
_ACTION_TAGS = frozenset({"v", "vd", "vi", "vn", "a", "ad"})
_MARKER_HINT = re.compile("请|望|盼|务必|麻烦")
_CLAUSE_END = re.compile(r"[\s,.;:!?，。；：！？、…~～]+")

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_extra_dicts: list[Path] = []
# While a batch of texts is cut (:func:`map_distinct`): jieba's words of each block it cuts
# on its own (a run of Chinese characters, letters and digits between punctuation, or the
# punctuation between), by block. Clauses repeat across lines (a greeting, a form's closing,
# a message quoted in another) and are cut once. Per thread (the service cuts requests in
# several), ``blocks`` is None outside a batch.
_batch = threading.local()


def _operator_user_dict() -> Path | None:
    from recommender.config import get_settings

    return get_settings().user_dict


def _load_dict_file(tok: jieba.Tokenizer, path: Path) -> None:
    # jieba leaves a file it opened by name unclosed; hand it an open file instead.
    with path.open("rb") as fh:
        tok.load_userdict(fh)


def _build_tokenizer() -> jieba.Tokenizer:
    # jieba prints "Building prefix dict…" to stderr at initialisation.
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    _load_dict_file(tok, PROJECT_USER_DICT)
    operator_dict = _operator_user_dict()
    for path in [operator_dict, *_extra_dicts]:
        if path is None:
            continue
        path = Path(path)
        if not path.is_file():
            logger.warning("user dictionary %s not found; ignored", path)
            continue
        _load_dict_file(tok, path)
        logger.info("loaded user dictionary %s", path)
    return tok


def _get_tokenizer() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                _tokenizer = _build_tokenizer()
    return _tokenizer


def load_user_dict(path: Path | str) -> None:
    """Add a jieba user dictionary (``word [freq] [tag]`` per line) for this process.

    It is applied now if the tokenizer is built, and again whenever it is rebuilt.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"user dictionary {path} does not exist")
    with _lock:
        if path not in _extra_dicts:
            _extra_dicts.append(path)
        if _tokenizer is not None:
            _load_dict_file(_tokenizer, path)
            _forget_blocks()


def reset_tokenizer() -> None:
    """Forget the tokenizer and extra dictionaries (next call rebuilds it; used by tests)."""
    global _tokenizer
    with _lock:
        _tokenizer = None
        _extra_dicts.clear()
        _forget_blocks()


def _forget_blocks() -> None:
    """Empty the block cache of this thread's running batch: the dictionary changed."""
    blocks = getattr(_batch, "blocks", None)
    if blocks is not None:
        blocks.clear()


@contextmanager
def _blocks_cached() -> Iterator[None]:
    """Keep jieba's words of each block cut inside the ``with`` (see ``_batch``)."""
    outer = getattr(_batch, "blocks", None)
    _batch.blocks = {} if outer is None else outer
    try:
        yield
    finally:
        _batch.blocks = outer


def _cut(text: str) -> list[str]:
    """``lcut(text, HMM=True)`` of the project's tokenizer. jieba cuts each block of
    ``jieba.re_han_default.split(text)`` alone, so inside a batch a block seen before
    gets its words from ``_batch.blocks``: the same words."""
    tok = _get_tokenizer()
    memo = getattr(_batch, "blocks", None)
    if memo is None:
        return tok.lcut(text, HMM=True)
    words: list[str] = []
    for block in jieba.re_han_default.split(text):
        if block:
            found = memo.get(block)
            if found is None:
                found = memo[block] = tok.lcut(block, HMM=True)
            words.extend(found)
    return words


def _keep(token: str, stops: frozenset[str]) -> bool:
    if not any(ch.isalpha() for ch in token):  # punctuation, digits, emoji, whitespace
        return False
    if _NUMBER.match(token):
        return False
    if token.isascii() and not _LATIN_WORD.match(token):
        return False
    return token not in stops


def normalize_text(text: str) -> str:
    """NFKC-fold, lower-case and blank out masking placeholders, formula payloads and links."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _FORMULA.sub(" ", text)
    text = _LINK.sub(" ", text)
    return _PLACEHOLDER.sub(" ", text)


_NON_WORD = re.compile(r"[^\w]+|[\d_]+")


@lru_cache(maxsize=1)
def _boilerplate_pattern() -> re.Pattern[str]:
    phrases = sorted((w for w in domain_stop_words() if len(w) >= 2), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, phrases)))


# Characters at the end of a line where a closing request is looked for, and where its
# marker (请, 望, 希望 …) must be: a closing is short ("，请相关部门尽快解决！").
CLOSING_TAIL_CHARS = 40
CLOSING_MARKER_CHARS = 16


def _split_tail(text: str) -> tuple[str, str]:
    """``text`` as (head, tail): the tail starts at a clause boundary within the last
    ``CLOSING_TAIL_CHARS`` characters (all of a short text is tail)."""
    if len(text) <= CLOSING_TAIL_CHARS:
        return "", text
    cut = len(text) - CLOSING_TAIL_CHARS
    boundary = _CLAUSE_END.search(text, cut)
    if boundary is None:
        return text, ""
    return text[: boundary.start()], text[boundary.start():]


def char_segments(text: str) -> list[str]:
    """Runs of letters of ``text`` with the domain boilerplate phrases cut out, for
    character n-grams. No jieba: cheap, and free of segmentation errors. Generic stop
    words stay (their n-grams get a low IDF); question forms such as "怎么办" or
    "多少钱" often carry the intent of a short request."""
    text = normalize_text(text)
    # A closing request is in the last clauses: only they are cut into words (a body of
    # 200 characters would otherwise be segmented twice, here and by tokenize).
    head, tail = _split_tail(text)
    if _MARKER_HINT.search(text, max(1, len(text) - CLOSING_MARKER_CHARS)):  # maybe a closing: cut it like the tokens
        words = _cut(tail)
        if head:
            words = [head, *words]
        start = closing_request_start(words) if len(words) >= 3 else None
        if start is not None:
            text = "".join(words[:start])
    text = _boilerplate_pattern().sub(" ", text)
    return _NON_WORD.sub(" ", text).split()


def pieces(text: str) -> list[str]:
    """jieba's pieces of the normalized ``text`` in order, stop words and punctuation
    included, without a closing request: the text as written, cut into words (labels are
    copied from runs of these)."""
    if not text:
        return []
    return _cut_closing(_cut(normalize_text(text)))


def tokenize_many(texts: Sequence[str], n_jobs: int | None = None) -> list[list[str]]:
    """``[tokenize(t) for t in texts]``, in ``n_jobs`` processes when that is more than one
    and there are many texts (jieba holds the GIL, so threads would not help). A text that
    comes more than once is cut once."""
    return map_distinct(tokenize, texts, n_jobs)


def char_segments_many(texts: Sequence[str], n_jobs: int | None = None) -> list[list[str]]:
    """``[char_segments(t) for t in texts]``, each distinct text once (see :func:`map_distinct`)."""
    return map_distinct(char_segments, texts, n_jobs)


def map_distinct(
    func: Callable[[str], list[str]], texts: Sequence[str], n_jobs: int | None = None
) -> list[list[str]]:
    """``[func(t) for t in texts]`` for a deterministic ``func``, called once per distinct
    text (a store sampled or flooded with one template has many copies), in ``n_jobs``
    processes when that is more than one and there are many distinct texts. Every text
    gets its own list."""
    distinct = list(dict.fromkeys(texts))
    n_jobs = int(n_jobs or 1)
    # One text (predict) is cut whole: the cache would only split it into more jieba calls.
    with _blocks_cached() if len(distinct) > 1 else nullcontext():  # each forked worker fills its own copy
        if n_jobs <= 1 or len(distinct) < PARALLEL_MIN_TEXTS or "fork" not in multiprocessing.get_all_start_methods():
            results = [func(t) for t in distinct]
        else:
            _get_tokenizer()  # loaded once here; the forked workers inherit it
            if func is tokenize:
                _tagged_words()  # the same for the dictionary's tags (class feedback)
            chunk = max(1000, len(distinct) // (4 * n_jobs))
            with multiprocessing.get_context("fork").Pool(n_jobs) as pool:
                results = pool.map(func, distinct, chunksize=chunk)
    if len(distinct) == len(texts):
        return results
    found = dict(zip(distinct, results))
    return [list(found[t]) for t in texts]


# Fewest texts worth starting worker processes for.
PARALLEL_MIN_TEXTS = 20000


def tokenize(text: str) -> list[str]:
    """The topic-bearing words of ``text``, in order (may be empty: the line asks for
    nothing). A line whose words all speak of the class itself ("支持夜校", "希望多办几期",
    "时间能不能改到周末") or its conditions ("声音太小，后排听不清", "PPT字太小") names no
    subject: no words."""
    stops = stop_words()
    words = [w for w in (w.strip() for w in pieces(text)) if w and _keep(w, stops)]
    return [] if only_class_words(words, _lexicon) else words


def dictionary_tags() -> Iterator[tuple[str, str]]:
    """(word, part-of-speech tag) of every tagged entry of jieba's main dictionary."""
    with _get_tokenizer().get_dict_file() as fh:
        for raw in fh:
            parts = raw.decode("utf-8").split()
            if len(parts) == 3:
                yield parts[0], parts[2]


# Tags of the closed word classes, which name no subject: direction and position, measure,
# pronoun, preposition, conjunction, particle, interjection, onomatopoeia. (Time, number,
# place and adverb tags are left out: the dictionary tags 春节 and 中秋 as time words, 二手 as
# a number, 相机 as an adverb.)
_FUNCTION_TAGS = frozenset({"f", "q", "r", "rr", "rz", "rg", "p", "c", "u", "ul", "uv", "ud", "uj", "uz", "ug",
                            "y", "e", "o"})


def _lexicon() -> Lexicon:
    """What jieba's dictionary says of words, for the class-feedback test (the tags read once,
    the frequencies of the tokenizer in use, user dictionaries included)."""
    return Lexicon(*_tagged_words(), _get_tokenizer().FREQ)


@lru_cache(maxsize=1)
def _tagged_words() -> tuple[frozenset[str], frozenset[str]]:
    """(adjectives, words that name no subject) of jieba's main dictionary."""
    adjectives, function_words = set(), set()
    for word, tag in dictionary_tags():
        if tag == "a":
            adjectives.add(word)
        elif tag in _FUNCTION_TAGS:
            function_words.add(word)
    return frozenset(adjectives), frozenset(function_words)


@lru_cache(maxsize=1)
def _action_words() -> frozenset[str]:
    """Words jieba's dictionary tags as actions (see ``_ACTION_TAGS``), read once."""
    return frozenset(word for word, tag in dictionary_tags() if tag in _ACTION_TAGS)


def _is_filler(word: str) -> bool:
    """Punctuation, whitespace or a particle/thanks word that may end a closing."""
    return not any(ch.isalpha() for ch in word) or word in _CLOSING_TRAILERS or (
        word in stop_words() and word not in _action_words()
    )


def closing_request_start(words: list[str]) -> int | None:
    """Index in ``words`` (jieba's pieces of a normalized line, in order) where a closing
    request begins (see ``_CLOSING_MARKERS``), or None. The line must say something before
    it: a closing alone is left as it is."""
    start = len(words)
    while True:  # "……，请尽快处理，望回复": one closing after another
        found = next((i for i in range(start - 1, 0, -1) if _opens_closing(words, i, start)), None)
        if found is None:
            break
        start = found
    if start == len(words):
        return None
    stops = stop_words()
    if not any(_keep(w.strip(), stops) for w in words[:start] if w.strip()):
        return None
    return start


def _opens_closing(words: list[str], i: int, end: int) -> bool:
    if words[i] not in _CLOSING_MARKERS:
        return False
    if words[i] in _CLAUSE_MARKERS and not _CLAUSE_END.fullmatch(words[i - 1]):
        return False
    return _closes(words[i + 1 : end])


def _closes(tail: list[str]) -> bool:
    """True when ``tail`` (the words after a marker) is addressee/adverbs + one action verb
    + fillers."""
    words = [w for w in tail if w.strip()]
    i = 0
    while i < len(words) and (words[i] in _CLOSING_ADDRESSEES or words[i] in _CLOSING_ADVERBS):
        i += 1
    if i == len(words) or not _is_action(words[i]):
        return False
    return all(_is_filler(w) for w in words[i + 1 :])


def _is_action(word: str) -> bool:
    """An action word, or one written together with its adverb ("及时处理")."""
    if word in _action_words():
        return True
    return any(word.startswith(a) and word[len(a) :] in _action_words() for a in _CLOSING_ADVERBS if len(word) > len(a))


def _cut_closing(words: list[str]) -> list[str]:
    if len(words) < 3:
        return words
    start = closing_request_start(words)
    return words if start is None else words[:start]


def is_known_word(word: str) -> bool:
    """True when ``word`` is in jieba's dictionary or a loaded user dictionary.

    Words found only by jieba's HMM (new-word discovery) are often fragments such as
    "讲得"; the topic describer prefers known words for keywords.
    """
    return _get_tokenizer().FREQ.get(word, 0) > 0
