"""Chinese tokenization for topic modelling: jieba words minus everything that carries no topic.

``tokenize`` is a module-level function so that joblib pickles it by reference inside a
fitted model. It uses a private ``jieba.Tokenizer`` (never the global one, which other code
may change), built lazily on first use with the project's user dictionary
(``data/user_dict.txt``) and the operator's one (``Settings.user_dict``), so local terms such
as 网格员, 楼栋长 or 星光夜校 stay whole.

Removed: stop words (see :mod:`recommender.text.stopwords`), punctuation, digits, emoji,
whitespace and the placeholders left by masking (``[手机号]``, ``[身份证号]`` …).
Full-width forms are folded by NFKC and Latin letters are lower-cased.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba

from recommender.text.stopwords import DATA_DIR, domain_stop_words, stop_words

__all__ = [
    "PROJECT_USER_DICT",
    "char_segments",
    "is_known_word", "load_user_dict", "normalize_text", "reset_tokenizer", "tokenize"]

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
_LATIN_WORD = re.compile(r"^(?=(?:[^a-z]*[a-z]){2})[a-z0-9.+#-]+$|^\d+g$")

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_extra_dicts: list[Path] = []


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


def reset_tokenizer() -> None:
    """Forget the tokenizer and extra dictionaries (next call rebuilds it; used by tests)."""
    global _tokenizer
    with _lock:
        _tokenizer = None
        _extra_dicts.clear()


def _keep(token: str, stops: frozenset[str]) -> bool:
    if not any(ch.isalpha() for ch in token):  # punctuation, digits, emoji, whitespace
        return False
    if _NUMBER.match(token):
        return False
    if token.isascii() and not _LATIN_WORD.match(token):
        return False
    return token not in stops


def normalize_text(text: str) -> str:
    """NFKC-fold, lower-case and blank out masking placeholders and formula payloads."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _FORMULA.sub(" ", text)
    return _PLACEHOLDER.sub(" ", text)


_NON_WORD = re.compile(r"[^\w]+|[\d_]+")


@lru_cache(maxsize=1)
def _boilerplate_pattern() -> re.Pattern[str]:
    phrases = sorted((w for w in domain_stop_words() if len(w) >= 2), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, phrases)))


def char_segments(text: str) -> list[str]:
    """Runs of letters of ``text`` with the domain boilerplate phrases cut out, for
    character n-grams. No jieba: cheap, and free of segmentation errors. Generic stop
    words stay (their n-grams get a low IDF); question forms such as "怎么办" or
    "多少钱" often carry the intent of a short request."""
    text = _boilerplate_pattern().sub(" ", normalize_text(text))
    return _NON_WORD.sub(" ", text).split()


def tokenize(text: str) -> list[str]:
    """The topic-bearing words of ``text``, in order (may be empty)."""
    if not text:
        return []
    stops = stop_words()
    words = _get_tokenizer().lcut(normalize_text(text), HMM=True)
    return [w for w in (w.strip() for w in words) if w and _keep(w, stops)]


def is_known_word(word: str) -> bool:
    """True when ``word`` is in jieba's dictionary or a loaded user dictionary.

    Words found only by jieba's HMM (new-word discovery) are often fragments such as
    "讲得"; the topic describer prefers known words for keywords.
    """
    return _get_tokenizer().FREQ.get(word, 0) > 0
