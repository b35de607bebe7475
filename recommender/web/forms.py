"""Reading an HTML form strictly as UTF-8.

Starlette decodes a form leniently: a percent-escape that is not UTF-8 becomes U+FFFD, and
raw bytes that are not UTF-8 are read as Latin-1, so a broken submission would be stored as
mojibake while the JSON API answers 400 for the same bytes. :func:`read_form` checks the body
first and raises :class:`FormEncodingError` (400, ``invalid_encoding``, a message saying what
to do); every form route reads its form through it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import FormData

from recommender.web.errors import HttpError

__all__ = ["FORM_ENCODING_MESSAGE", "FormEncodingError", "read_form"]

FORM_ENCODING_MESSAGE = "提交的文字不是有效的 UTF-8 编码，无法读取。请在浏览器中打开表单重新填写，或用 UTF-8 编码提交。"


class FormEncodingError(HttpError):
    """A form body that is not valid UTF-8 (400)."""

    def __init__(self) -> None:
        super().__init__(400, "invalid_encoding", FORM_ENCODING_MESSAGE)


def _is_utf8_form(body: bytes, content_type: str) -> bool:
    try:
        text = body.decode("utf-8")
        if content_type.startswith("multipart/"):
            return True  # every part's bytes are in the body, which decoded
        # URL-encoded (and no content type): the percent-escapes must decode too.
        parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        return False
    return True


async def read_form(request: Request) -> FormData:
    """The request's form, after checking that its body is UTF-8 (``FormEncodingError`` if not).
    A malformed multipart body raises the framework's 400, as ``request.form()`` does."""
    body = await request.body()  # bounded by the body size limit; request.form() reads it from here
    content_type = request.headers.get("content-type", "").lower()
    if body and not _is_utf8_form(body, content_type):
        raise FormEncodingError()
    return await request.form()
