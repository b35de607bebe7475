"""Test helpers shared by the web tests: one error assertion and a tiny HTML reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID_ELEMENTS = frozenset(
    "area base br col embed hr img input link meta source track wbr".split()
)


@dataclass(eq=False)
class Element:
    """One parsed HTML element: tag, attributes, child elements and text nodes."""

    tag: str
    attrs: dict[str, str | None]
    parent: Element | None = field(default=None, repr=False)
    children: list[Element] = field(default_factory=list, repr=False)
    nodes: list = field(default_factory=list, repr=False)  # text and child elements, in document order

    @property
    def text(self) -> str:
        """All text inside, in document order, whitespace collapsed."""
        out: list[str] = []

        def walk(el: Element) -> None:
            for node in el.nodes:
                if isinstance(node, str):
                    out.append(node)
                else:
                    walk(node)

        walk(self)
        return " ".join(" ".join(out).split())

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Descendants (and self) with this tag whose attributes equal the given ones
        (use ``class_`` for class; a value ``True`` only asks that the attribute exists)."""
        wanted = {k.rstrip("_"): v for k, v in attrs.items()}
        found = []
        for el in self.iter():
            if tag is not None and el.tag != tag:
                continue
            if all(
                (name in el.attrs) if value is True else (
                    value in (el.attrs.get(name) or "").split() if name == "class" else el.attrs.get(name) == value
                )
                for name, value in wanted.items()
            ):
                found.append(el)
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Element | None:
        hits = self.find_all(tag, **attrs)
        return hits[0] if hits else None

    def by_id(self, element_id: str) -> Element | None:
        return self.find(id=element_id)

    def ancestors(self):
        el = self.parent
        while el is not None:
            yield el
            el = el.parent


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        el = Element(tag, dict(attrs), parent=self.current)
        self.current.children.append(el)
        self.current.nodes.append(el)
        if tag not in VOID_ELEMENTS:
            self.current = el

    def handle_startendtag(self, tag, attrs):
        el = Element(tag, dict(attrs), parent=self.current)
        self.current.children.append(el)
        self.current.nodes.append(el)

    def handle_endtag(self, tag):
        el = self.current
        while el is not None and el.tag != tag:
            el = el.parent
        if el is not None and el.parent is not None:
            self.current = el.parent

    def handle_data(self, data):
        self.current.nodes.append(data)


def parse_html(markup: str) -> Element:
    """Parse a page into an Element tree (lenient, standard library only)."""
    tree = _Tree()
    tree.feed(markup)
    tree.close()
    return tree.root


def label_for(page: Element, control_id: str) -> Element | None:
    """The <label for=control_id> of a control."""
    return page.find("label", **{"for": control_id})


def assert_error(response, status: int, code: str | None = None) -> dict | Element:
    """Assert an error response in the project's one error shape and return its body.

    ``/api/*``, ``/healthz`` and ``/readyz`` answer JSON ``{"error": {"code", "message"}}``
    (``code`` checked when given); every other path answers the HTML error page (or, for
    the form, the form again) with a non-empty Chinese message. Never a bare 500.
    """
    assert response.status_code == status, (response.status_code, response.text[:500])
    path = response.request.url.path
    ctype = response.headers.get("content-type", "")
    if path.startswith("/api/") or path in ("/healthz", "/readyz"):
        assert ctype.startswith("application/json"), ctype
        body = response.json()
        assert set(body) == {"error"}, body
        assert isinstance(body["error"].get("code"), str) and body["error"]["code"], body
        assert isinstance(body["error"].get("message"), str) and body["error"]["message"].strip(), body
        if code is not None:
            assert body["error"]["code"] == code, body
        return body
    assert ctype.startswith("text/html"), ctype
    page = parse_html(response.text)
    html = page.find("html")
    assert html is not None and html.get("lang") == "zh-CN"
    assert page.find("h1") is not None and page.find("h1").text, "an error page has a heading"
    return page


def dashboard_login(client, token: str) -> str:
    """Log the client in to the dashboard with ``token`` and return the dashboard page's CSRF token."""
    import re

    response = client.post("/organizer/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/organizer").text)
    assert match
    return match.group(1)
