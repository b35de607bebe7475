"""Request body size limit (pure ASGI, so it also stops chunked uploads with no length)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Answer 413 when a request body is larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(scope, send)
                    return
        received = 0
        started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now and tell the app the client went away: raising here would be
                    # caught by FastAPI's body reader and turned into a 400.
                    rejected = True
                    if not started:
                        await self._reject(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 has been sent; drop whatever the app answers after the disconnect
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not rejected:  # e.g. ClientDisconnect from a route reading the cut-off body
                raise

    async def _reject(self, scope: Scope, send: Send) -> None:
        limit_kb = self.max_bytes // 1024
        message = f"提交的内容太大（上限 {limit_kb} KB），请缩短后再提交"
        if scope.get("path", "").startswith("/api/"):
            body = json.dumps({"error": {"code": "payload_too_large", "message": message}}, ensure_ascii=False)
            ctype = b"application/json"
        else:
            body = (
                "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>内容太大</title>"
                f"<h1>提交的内容太大</h1><p>{message}</p><p><a href='/'>返回</a></p></html>"
            )
            ctype = b"text/html; charset=utf-8"
        data = body.encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(data)).encode()), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": data})
