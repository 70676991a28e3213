"""Outbound requests under a policy: the only code that fetches from the network.

* Schemes: http and https only.
* Addresses: every address a host name resolves to is checked, after every redirect, and the
  connection goes to the address that was checked (the request names the host in its ``Host``
  header and TLS SNI), so a DNS answer that changes between the check and the connect cannot
  swap it. Loopback, RFC 1918, link-local (the cloud metadata endpoint among them), CGNAT,
  IPv6 unique-local and link-local, multicast and reserved addresses are refused unless the
  host or its address is on the allow-list (``QA_FETCH__ALLOW_HOSTS``: tests, intranets).
* Limits: at most ``max_redirects`` redirects, connect and read timeouts, ``max_bytes`` of body
  after decompression (a decompression bomb is cut off there), HTML or XML only.
* Politeness, per host: one request at a time, ``min_delay_s`` between requests, a
  ``Retry-After`` honoured, robots.txt honoured (``urllib.robotparser``), a User-Agent that
  names the product.

A refused URL raises ``FetchRefused`` (never fetched); a failed fetch raises ``FetchFailed``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

USER_AGENT = "newsqa/0.1 (+https://github.com/newsqa; news archive follower)"
CONTENT_TYPES = (
    "text/html",
    "application/xhtml+xml",
    "application/xml",
    "text/xml",
    "application/rss+xml",
    "application/atom+xml",
)
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class FetchRefused(Exception):
    """The policy refuses this URL: it was not fetched."""


class FetchFailed(Exception):
    """The fetch was tried and failed (timeout, status, size, type); ``status`` when HTTP
    answered, ``retry_after`` (seconds) when it asked to wait."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 (not modified: body empty)
    headers: dict[str, str]
    body: bytes

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def private(addr: Address) -> bool:
    """An address a fetch of a public URL must never reach."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or (isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT)
    )


def parse_allow(entries: Sequence[str]) -> tuple[set[str], list[Network]]:
    """Host names and networks (CIDRs or single addresses) of an allow-list."""
    hosts: set[str] = set()
    nets: list[Network] = []
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry)
    return hosts, nets


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchFailed(f"cannot resolve {host}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass
class FetchPolicy:
    allow_hosts: Sequence[str] = ()
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    min_delay_s: float = 1.0
    robots: bool = True
    user_agent: str = USER_AGENT
    resolver: Resolver = field(default=system_resolver)

    def __post_init__(self) -> None:
        self._hosts, self._nets = parse_allow(self.allow_hosts)

    def check(self, url: str) -> tuple[str, int, str]:
        """(host, port, the address to connect to) for an allowed URL; FetchRefused otherwise.
        Every address the host resolves to must be allowed, not only the first."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchRefused(f"{url}: only http and https URLs are fetched")
        host = (parts.hostname or "").lower()
        if not host:
            raise FetchRefused(f"{url}: no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        addrs = [host] if literal is not None else self.resolver(host, port)
        if not addrs:
            raise FetchFailed(f"{host} resolves to no address")
        allowed_host = host in self._hosts
        for a in addrs:
            addr = ipaddress.ip_address(a)
            if private(addr) and not allowed_host and not any(addr in n for n in self._nets):
                raise FetchRefused(
                    f"{url}: {host} resolves to {addr}, a private or local address"
                    " (allow it with QA_FETCH__ALLOW_HOSTS)"
                )
        return host, port, addrs[0]


class Fetcher:
    """GETs under a ``FetchPolicy``, polite per host. Thread-safe."""

    def __init__(self, policy: FetchPolicy | None = None, transport: Any = None):
        import httpx

        self.policy = policy or FetchPolicy()
        timeout = httpx.Timeout(self.policy.read_timeout_s, connect=self.policy.connect_timeout_s)
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)
        self._locks: dict[str, threading.Lock] = {}
        self._next: dict[str, float] = {}  # host -> monotonic time of the next allowed request
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._guard = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def _host_lock(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        types: Sequence[str] = CONTENT_TYPES,
        robots: bool | None = None,
    ) -> Fetched:
        """The page at ``url`` (redirects followed, each hop checked). A 304 answers a
        conditional request (``etag``/``last_modified``) with an empty body."""
        if robots if robots is not None else self.policy.robots:
            self._check_robots(url)
        headers = {"User-Agent": self.policy.user_agent, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _ in range(self.policy.max_redirects + 1):
            resp = self._one(current, headers)
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.headers.get("location")
                if not location:
                    raise FetchFailed(f"{current}: redirect without a Location", resp.status)
                current = urljoin(current, location)
                continue
            if resp.status == 304:
                return resp
            if resp.status != 200:
                raise FetchFailed(
                    f"{current}: HTTP {resp.status}", resp.status, _retry_after(resp.headers)
                )
            if types and resp.content_type not in types:
                raise FetchFailed(
                    f"{current}: content type {resp.content_type or 'missing'!r} is not HTML or XML"
                )
            return resp
        raise FetchFailed(f"{url}: more than {self.policy.max_redirects} redirects")

    def _one(self, url: str, headers: dict[str, str]) -> Fetched:
        import httpx

        host, port, addr = self.policy.check(url)
        parts = urlsplit(url)
        netloc = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        lock = self._host_lock(host)
        with lock:
            wait = self._next.get(host, 0.0) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            req_headers = {**headers, "Host": parts.netloc.split("@")[-1]}
            ext = {"sni_hostname": host} if parts.scheme == "https" else {}
            try:
                with self.client.stream("GET", pinned, headers=req_headers, extensions=ext) as resp:
                    body = b""
                    if resp.status_code == 200:
                        body = self._read(resp, url)
                    out = Fetched(url, resp.status_code, dict(resp.headers), body)
            except httpx.TimeoutException:
                raise FetchFailed(f"{url}: timed out") from None
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from None
            finally:
                self._next[host] = time.monotonic() + self.policy.min_delay_s
            retry = _retry_after(out.headers)
            if out.status in (429, 503) and retry:
                self._next[host] = time.monotonic() + min(retry, 3600.0)
            return out

    def _read(self, resp: Any, url: str) -> bytes:
        limit = self.policy.max_bytes
        length = resp.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise FetchFailed(f"{url}: {length} bytes is over the limit of {limit}")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_bytes():  # decompressed: a bomb stops at the limit
                size += len(chunk)
                if size > limit:
                    raise FetchFailed(f"{url}: body over the limit of {limit} bytes")
                chunks.append(chunk)
        except FetchFailed:
            raise
        except Exception as exc:  # a truncated or corrupt compressed body
            raise FetchFailed(f"{url}: unreadable body ({type(exc).__name__})") from None
        return b"".join(chunks)

    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        with self._guard:
            known = root in self._robots
            parser = self._robots.get(root)
        if not known:
            parser = urllib.robotparser.RobotFileParser()
            try:
                got = self.get(f"{root}/robots.txt", types=(), robots=False)
                parser.parse(got.body.decode("utf-8", "replace").splitlines())
            except FetchFailed as exc:
                if exc.status in (401, 403):
                    parser.disallow_all = True  # type: ignore[attr-defined]
                else:
                    parser.allow_all = True  # type: ignore[attr-defined]  # 404 or unreachable
            with self._guard:
                self._robots[root] = parser
        if parser is not None and not parser.can_fetch(self.policy.user_agent, url):
            raise FetchRefused(f"{url}: disallowed by {root}/robots.txt")


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
