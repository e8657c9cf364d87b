"""Real HTTP servers on loopback for the tests that fetch: sites made of routes, and fixture pages and feeds.

A ``Web`` starts ``Site``s (one origin each: a threaded ``http.server`` on
127.0.0.x at a free port) that answer from a table of routes and log every
request they see, so a test asserts from the server's side what was asked,
in what order and how far apart. ``page``, ``rss`` and ``atom`` make the
documents an outlet serves. Used by the crawler's tests (tests/test_crawl.py)
and the ``/sources`` page's (tests/test_sources_web.py).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# --- a fixture HTTP server ------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    stream: Callable[[], Iterator[bytes]] | None = None  # sent without Content-Length


@dataclass
class Request:
    at: float  # time.monotonic() on arrival
    origin: str  # http://host:port
    path: str  # with the query
    headers: dict[str, str]
    status: int = 0
    sent: int = 0


Route = Callable[[], Reply]


class Site:
    """One origin: routes by path (query ignored), a shared request log."""

    def __init__(self, host: str, log: list[Request], lock: threading.Lock) -> None:
        self.routes: dict[str, Route] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://{host}:{self.server.server_address[1]}"
        self.log, self.lock = log, lock
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.origin + path

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        request = Request(time.monotonic(), self.origin, handler.path, dict(handler.headers.items()))
        with self.lock:
            self.log.append(request)
        route = self.routes.get(urlsplit(handler.path).path)
        reply = route() if route else Reply(404, b"not here")
        etag = '"' + hashlib.sha1(reply.body).hexdigest()[:16] + '"'
        if reply.status == 200 and reply.stream is None and handler.headers.get("If-None-Match") == etag:
            reply = Reply(304, headers={})
        request.status = reply.status
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if reply.status == 200 and reply.stream is None:
            handler.send_header("ETag", etag)
        if reply.stream is None:
            handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        try:
            for chunk in reply.stream() if reply.stream else [reply.body]:
                handler.wfile.write(chunk)
                request.sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up: what we want from it on an oversized body

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Web:
    """The servers of one test module, with their common request log."""

    def __init__(self) -> None:
        self.log: list[Request] = []
        self.lock = threading.Lock()
        self.sites: list[Site] = []

    def site(self, host: str = "127.0.0.1") -> Site:
        self.sites.append(Site(host, self.log, self.lock))
        return self.sites[-1]

    def mark(self) -> int:
        with self.lock:
            return len(self.log)

    def requests(self, since: int = 0, until: int | None = None) -> list[Request]:
        with self.lock:
            return list(self.log[since:until])

    def close(self) -> None:
        for site in self.sites:
            site.close()


# --- fixture pages ----------------------------------------------------------------

LOREM = (
    "Officials from Belgrade and Pristina met in Brussels on {topic} to continue the dialogue mediated by the "
    "European Union, according to people familiar with the talks who asked not to be named. "
    "The delegations discussed energy, freedom of movement and the fate of missing persons, and agreed to meet "
    "again before the end of the month, a spokesperson for the mediators said in a statement. "
    "Observers in the region said the {topic} meeting was the most substantive in a year, although neither "
    "side announced a breakthrough and several questions remain open."
)


def paragraphs(topic: str) -> list[str]:
    return [
        LOREM.format(topic=topic),
        (f"The talks on {topic} followed weeks of tension in the north, where local authorities and residents "
         "disagreed over licence plates, documents and the presence of police, and where international troops "
         "increased their patrols after several incidents on the roads near the administrative line."),
        (f"Analysts expect the next round on {topic} to address the association of municipalities, a long-delayed "
         "commitment that both governments describe differently, and the recognition of diplomas and "
         "documents issued by the other side, which matters to thousands of students and workers."),
    ]


def html(title: str, topic: str, *, canonical: str | None = None, robots: str | None = None,
         charset: str = "utf-8", text: list[str] | None = None) -> str:
    head = [f'<meta charset="{charset}">', f"<title>{title}</title>"]
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    if robots:
        head.append(f'<meta name="robots" content="{robots}">')
    body = "".join(f"<p>{p}</p>" for p in (text or paragraphs(topic)))
    return (f"<!doctype html><html><head>{''.join(head)}</head><body><header><a href='/'>Home</a></header>"
            f"<article><h1>{title}</h1>{body}</article><footer>© Fixture</footer></body></html>")


def page(title: str, topic: str, **kwargs: object) -> Route:
    body = html(title, topic, **kwargs).encode()  # type: ignore[arg-type]
    return lambda: Reply(body=body)


def reply(status: int, body: bytes = b"", **headers: str) -> Route:
    return lambda: Reply(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


def sequence(*replies: Reply) -> Route:
    """Answers in turn, the last one from then on."""
    answers = list(replies)
    return lambda: answers.pop(0) if len(answers) > 1 else answers[0]


def rss(items: list[tuple[str, str, str | None]]) -> bytes:
    """RSS 2.0 with (link, title, pubDate) items."""
    entries = "".join(
        f"<item><title>{title}</title><link>{link.replace('&', '&amp;')}</link>"
        + (f"<pubDate>{date}</pubDate>" if date else "") + "</item>"
        for link, title, date in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>{entries}</channel></rss>'.encode()


def atom(items: list[tuple[str, str, str]]) -> bytes:
    entries = "".join(
        f'<entry><title>{title}</title><link rel="alternate" href="{link.replace("&", "&amp;")}"/>'
        f"<id>{link.replace('&', '&amp;')}</id><updated>{date}</updated><published>{date}</published></entry>"
        for link, title, date in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Feed</title>'
            f"<updated>2024-01-01T00:00:00Z</updated><id>urn:feed</id>{entries}</feed>").encode()
