"""Following feeds against a real news site on 127.0.0.1 (``tests/news_site.py``): first poll,
conditional re-poll, a changed article, bad pages and feeds, the default refusal of private
addresses (by policy and resolution only: no traffic leaves 127.0.0.1), a poller killed
mid-poll, and a question answered from an article only a feed brought in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.fetch import FetchPolicy, FetchRefused
from qa.errors import InputError
from qa.settings import FetchSettings, Settings
from qa.wiring import Components
from tests.conftest import ROOT
from tests.news_site import NewsSite, bbc_articles

pytestmark = pytest.mark.integration
DATE = "Thu, 02 May 2024 10:00:00 GMT"


@pytest.fixture
def site() -> Iterator[NewsSite]:
    arts = {f"story-{i}": (t, b, DATE) for i, (t, b) in enumerate(bbc_articles(8))}
    s = NewsSite(arts)
    yield s
    s.close()


def comps_for(tmp: Path, embedder, **fetch) -> Components:
    opts = {"allow_hosts": ["127.0.0.1"], "min_delay_s": 0.0, "read_timeout_s": 1.0, **fetch}
    settings = Settings(data_dir=tmp, collection="feeds", fetch=FetchSettings(**opts))
    return Components(settings, embedder=embedder)


def test_feeds_ingest_then_repoll_conditionally(site, hash_embedder, tmp_path) -> None:
    comps = comps_for(tmp_path, hash_embedder)
    feeds = comps.feeds
    try:
        rss = feeds.add(f"{site.base}/rss.xml", "15m")
        first = feeds.poll(rss["id"])[0]
        assert first.error is None and first.items == 8 and len(first.ingested) == 8
        assert comps.archive.count() == 8
        one = comps.archive.get(first.ingested[0])
        assert one.article.url and one.article.url.startswith(f"{site.base}/news/")
        assert one.article.source == "Example News" and one.article.language == "en"
        assert one.article.published is not None and one.article.published.year == 2024
        assert "Summary only" not in one.article.text  # the page, never the feed's summary
        # the second poll: one conditional request, a 304, nothing ingested
        n = len(site.log)
        again = feeds.poll(rss["id"])[0]
        assert again.not_modified and not again.ingested
        assert len(site.log) == n + 1 and "if-none-match" in site.log[-1][1]
        # Atom and a news sitemap over the same pages: nothing new is stored
        for path in ("/atom.xml", "/sitemap.xml"):
            feed = feeds.add(f"{site.base}{path}")
            report = feeds.poll(feed["id"])[0]
            assert report.error is None and report.items == 8 and not report.ingested
        # a changed article replaces its old version; an item gone from the feed stays stored
        title, body, date = site.articles["story-0"]
        site.articles["story-0"] = (title, body + "\nA late correction was added today.", date)
        site.feed_items.remove("story-7")
        changed = feeds.poll(rss["id"])[0]
        assert len(changed.ingested) == 1 and changed.unchanged == 6
        assert comps.archive.count() == 8
        hit = comps.archive.search("late correction was added", k=1, method="bm25")[0]
        assert hit.url == site.url("story-0")
        listed = {f["id"]: f for f in feeds.all()}[rss["id"]]
        assert listed["items_ingested"] == 8 and listed["last_error"] is None
    finally:
        comps.close()


def test_bad_pages_and_feeds_are_skipped_with_reasons(site, hash_embedder, tmp_path) -> None:
    bad = site.add_bad_pages()
    comps = comps_for(tmp_path, hash_embedder)
    try:
        rss = comps.feeds.add(f"{site.base}/rss.xml")
        report = comps.feeds.poll(rss["id"])[0]
        assert len(report.ingested) == 8
        reasons = {u.rsplit("/", 1)[-1]: r for u, r in report.failed + report.skipped}
        assert set(reasons) == {f"{slug}.html" for slug in bad}, reasons
        assert "timed out" in reasons["slow.html"]
        assert "HTTP 500" in reasons["error.html"]
        assert "over the limit" in reasons["huge.html"] and "over the limit" in reasons["bomb.html"]
        assert "redirects" in reasons["loop.html"]
        assert comps.archive.count() == 8  # nothing stored for them, nothing else changed
        site.extra["/notxml.xml"] = (200, {"content-type": "text/html"}, b"hello, no feed here")
        site.extra["/cut.xml"] = (200, {"content-type": "application/xml"}, site.rss()[:300])
        for path, why in (("/notxml.xml", "not XML"), ("/cut.xml", "feed")):
            feed = comps.feeds.add(f"{site.base}{path}")
            broken = comps.feeds.poll(feed["id"])[0]
            assert broken.error and why in broken.error, broken.error
            state = comps.feeds.get(feed["id"])
            assert state["failures"] == 1 and state["last_error"] == broken.error
            assert state["next_poll"] > time.time() + 60  # backed off
        assert comps.archive.count() == 8
    finally:
        comps.close()


def test_private_addresses_are_refused_by_default() -> None:
    def fake_dns(host: str, port: int) -> list[str]:  # no lookup leaves the machine
        return {"intranet.example": ["10.1.2.3"], "news.example": ["93.184.216.34"]}[host]

    policy = FetchPolicy(resolver=fake_dns)
    for url in (
        "http://127.0.0.1:8080/rss.xml",
        "http://10.0.0.1/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/feed",
        "http://100.64.0.7/feed",
        "http://intranet.example/rss",
    ):
        with pytest.raises(FetchRefused, match="private or local"):
            policy.check(url)
    with pytest.raises(FetchRefused, match="only http and https"):
        policy.check("file:///etc/passwd")
    assert policy.check("https://news.example/rss")[2] == "93.184.216.34"
    allowed = FetchPolicy(allow_hosts=["10.0.0.0/8", "127.0.0.1"], resolver=fake_dns)
    assert allowed.check("http://intranet.example/rss")[2] == "10.1.2.3"


def test_a_refused_feed_is_reported_and_never_fetched(site, hash_embedder, tmp_path) -> None:
    comps = comps_for(tmp_path, hash_embedder, allow_hosts=[])
    try:
        n = len(site.log)
        with pytest.raises(InputError, match="refused"):
            comps.feeds.add(f"{site.base}/rss.xml")
        assert len(site.log) == n
    finally:
        comps.close()


def test_tracking_parameters_do_not_make_a_new_article(site, hash_embedder, tmp_path) -> None:
    comps = comps_for(tmp_path, hash_embedder)
    try:
        a, written = comps.feeds.add_url(site.url("story-1") + "?utm_source=x&utm_medium=y")
        b, again = comps.feeds.add_url(site.url("story-1"))
        assert written and not again and a.id == b.id and a.url == site.url("story-1")
    finally:
        comps.close()


def test_wire_copies_share_a_story(site, hash_embedder, tmp_path) -> None:
    title, body, date = site.articles["story-2"]
    site.articles["copy-of-2"] = (title, body.replace("said", "told reporters", 1), date)
    comps = comps_for(tmp_path, hash_embedder)
    try:
        a, _ = comps.feeds.add_url(site.url("story-2"))
        b, _ = comps.feeds.add_url(site.url("copy-of-2"))
        c, _ = comps.feeds.add_url(site.url("story-3"))
        records = comps.archive.get_many([a.id, b.id, c.id])
        assert a.id != b.id  # kept under both URLs
        assert records[b.id].article.story == records[a.id].article.story == a.id
        assert records[c.id].article.story == c.id
    finally:
        comps.close()


@pytest.mark.slow
def test_a_poller_killed_mid_poll_loses_and_duplicates_nothing(site, tmp_path) -> None:
    for slug in site.feed_items:
        site.delay[f"/news/{slug}.html"] = 0.4
    env = {
        **os.environ,
        "QA_DATA_DIR": str(tmp_path),
        "QA_EMBEDDER__KIND": "hash",
        "QA_GENERATOR__KIND": "extractive",
        "QA_FETCH__ALLOW_HOSTS": "127.0.0.1",
        "QA_FETCH__MIN_DELAY_S": "0",
    }
    qa = [sys.executable, "-m", "cli"]
    add = subprocess.run([*qa, "feeds", "add", f"{site.base}/rss.xml"], env=env, cwd=ROOT)
    assert add.returncode == 0
    proc = subprocess.Popen([*qa, "feeds", "poll"], env=env, cwd=ROOT, start_new_session=True)
    deadline = time.time() + 60
    while sum(p.startswith("/news/") for p, _ in site.log) < 4 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    again = subprocess.run(
        [*qa, "feeds", "poll", "--json"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    comps = Components(Settings(data_dir=tmp_path, embedder={"kind": "hash"}))
    comps.repair()
    try:
        records = comps.store.find_articles({"state": {"$in": ["pending", "complete"]}})
        urls = [r.article.url for r in records]
        assert sorted(urls) == sorted(site.url(s) for s in site.feed_items)  # all, once each
        assert all(r.state == "complete" for r in records)
    finally:
        comps.close()


@pytest.mark.slow
def test_a_question_about_a_feed_article_cites_its_url(site, onnx_embedder, tmp_path) -> None:
    comps = comps_for(tmp_path, onnx_embedder)
    try:
        feed = comps.feeds.add(f"{site.base}/rss.xml")
        assert len(comps.feeds.poll(feed["id"])[0].ingested) == 8
        assert site.articles["story-0"][0] == "Ad sales boost Time Warner profit"
        answer = comps.engine.answer(
            "How much did quarterly profits at Time Warner rise?", mode="extractive"
        )
        assert answer.status == "answered", answer.reason
        assert answer.citations[0].url == site.url("story-0"), answer.citations
        assert "76%" in answer.text
    finally:
        comps.close()
