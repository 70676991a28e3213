"""A small news site on 127.0.0.1 for the feed tests: article pages made from BBC articles, an
RSS feed, an Atom feed, a news sitemap, robots.txt, conditional GETs (ETag, Last-Modified),
and pages that misbehave (slow, 500, 30 MB, a gzip bomb, endless redirects, not XML, a feed cut
half-way). Every request is logged with its headers."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import html
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import BBC


def bbc_articles(n: int, topic: str = "business") -> list[tuple[str, str]]:
    out = []
    for f in sorted((BBC / topic).glob("*.txt"))[:n]:
        raw = f.read_bytes().decode("utf-8", "replace")
        title, _, body = raw.strip().partition("\n")
        out.append((title.strip(), body.strip()))
    return out


def page(title: str, body: str, date: str, site: str = "Example News") -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>\n" for p in body.split("\n") if p.strip())
    return (
        f'<!doctype html><html lang="en"><head><title>{html.escape(title)}</title>'
        f'<meta property="og:site_name" content="{site}">'
        f'<meta name="author" content="Staff Reporter">'
        f'<meta property="article:published_time" content="{date}">'
        f"</head><body><nav>Home | World | Business</nav><article><h1>{html.escape(title)}</h1>"
        f"{paras}</article><footer>Copyright Example News</footer></body></html>"
    )


class NewsSite:
    """Serves ``articles`` (slug -> (title, body, date)) and feeds over them."""

    def __init__(self, articles: dict[str, tuple[str, str, str]]):
        self.articles = dict(articles)
        self.feed_items = list(articles)  # slugs listed by the feeds
        self.extra: dict[str, tuple[int, dict[str, str], bytes]] = {}  # path -> raw response
        self.log: list[tuple[str, dict[str, str]]] = []
        self.delay: dict[str, float] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.log.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                site.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, slug: str) -> str:
        return f"{self.base}/news/{slug}.html"

    # content --------------------------------------------------------------------------------

    def _title(self, slug: str) -> str:
        return self.articles[slug][0] if slug in self.articles else slug.title()

    def rss(self) -> bytes:
        items = "".join(
            f"<item><title>{html.escape(self._title(s))}</title><link>{self.url(s)}</link>"
            f"<description>Summary only: not the article.</description>"
            f"<pubDate>{self.articles.get(s, ('', '', 'Thu, 02 May 2024 10:00:00 GMT'))[2]}</pubDate></item>"
            for s in self.feed_items
        )
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Example News</title>'
            f"<link>{self.base}/</link>{items}</channel></rss>"
        ).encode()

    def atom(self) -> bytes:
        entries = "".join(
            f'<entry><title>{html.escape(self._title(s))}</title><link href="{self.url(s)}"/>'
            f"<id>{self.url(s)}</id><updated>2024-05-02T10:00:00Z</updated></entry>"
            for s in self.feed_items
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Example Atom</title><id>{self.base}/atom</id>"
            f"<updated>2024-05-02T10:00:00Z</updated>{entries}</feed>"
        ).encode()

    def sitemap(self) -> bytes:
        urls = "".join(
            f"<url><loc>{self.url(s)}</loc><news:news><news:publication_date>2024-05-02"
            f"</news:publication_date><news:title>{html.escape(self._title(s))}"
            "</news:title></news:news></url>"
            for s in self.feed_items
        )
        return (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>"
        ).encode()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        time.sleep(self.delay.get(path, 0.0))
        if path in self.extra:
            status, headers, body = self.extra[path]
            return self._send(h, status, headers, body, conditional=False)
        if path == "/robots.txt":
            return self._send(
                h, 200, {"content-type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"
            )
        feeds = {"/rss.xml": self.rss, "/atom.xml": self.atom, "/sitemap.xml": self.sitemap}
        if path in feeds:
            ctype = "application/atom+xml" if "atom" in path else "application/xml"
            return self._send(h, 200, {"content-type": ctype}, feeds[path]())
        if path.startswith("/news/") and path.endswith(".html"):
            slug = path[len("/news/") : -len(".html")]
            if slug in self.articles:
                title, body, date = self.articles[slug]
                data = page(title, body, date).encode()
                return self._send(h, 200, {"content-type": "text/html; charset=utf-8"}, data)
        return self._send(h, 404, {"content-type": "text/plain"}, b"not found", conditional=False)

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: bytes,
        conditional: bool = True,
    ) -> None:
        headers = dict(headers)
        if conditional and status == 200:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            headers["etag"] = etag
            headers["last-modified"] = formatdate(1714644000, usegmt=True)
            if h.headers.get("If-None-Match") == etag:
                h.send_response(304)
                h.send_header("ETag", etag)
                h.end_headers()
                return
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if "content-length" not in {k.lower() for k in headers}:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            h.wfile.write(body)

    # misbehaving pages ------------------------------------------------------------------------

    def add_bad_pages(self) -> dict[str, str]:
        """Slug -> what is wrong with it; the feed lists them too."""
        bad = {
            "slow": "times out",
            "error": "HTTP 500",
            "huge": "30 MB",
            "bomb": "gzip bomb",
            "loop": "redirects forever",
        }
        self.delay["/news/slow.html"] = 3.0
        self.articles["slow"] = ("Slow page", "Nothing arrives in time. " * 40, "2024-05-02")
        self.extra["/news/error.html"] = (500, {"content-type": "text/html"}, b"oops")
        self.extra["/news/huge.html"] = (
            200,
            {"content-type": "text/html"},
            b"<html><body><p>" + b"x" * (30 * 1024 * 1024) + b"</p></body></html>",
        )
        bomb = gzip.compress(b"<html><body>" + b" " * (40 * 1024 * 1024) + b"</body></html>")
        self.extra["/news/bomb.html"] = (
            200,
            {"content-type": "text/html", "content-encoding": "gzip"},
            bomb,
        )
        self.extra["/news/loop.html"] = (302, {"location": "/news/loop.html?again=1"}, b"")
        self.feed_items += list(bad)
        return bad
