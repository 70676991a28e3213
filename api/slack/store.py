"""What the Slack bot remembers across restarts, in SQLite under the data directory: events
already taken (so Slack's retries and its double delivery never produce a second answer),
threads it answered, its answers, and 👍/👎 feedback."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS threads (
    channel TEXT NOT NULL, thread_ts TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (channel, thread_ts));
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, channel TEXT, thread_ts TEXT, user TEXT, question TEXT NOT NULL,
    answer TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS work (
    key TEXT PRIMARY KEY, event TEXT NOT NULL, bot_user TEXT, placeholder_ts TEXT,
    at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS answer_messages (
    channel TEXT NOT NULL, ts TEXT NOT NULL, answer_id TEXT NOT NULL,
    PRIMARY KEY (channel, ts));
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, answer_id TEXT NOT NULL, user TEXT,
    value INTEGER NOT NULL, at REAL NOT NULL, UNIQUE (answer_id, user));
"""


class SlackMemory:
    """A small SQLite database, safe to share between the bot's worker threads."""

    def __init__(self, path: Path, ttl_s: float = 24 * 3600):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def claim(self, keys: Sequence[str]) -> bool:
        """True for the first caller with any of ``keys`` (atomically); False if one of them
        was taken before and has not expired. Expired keys are dropped on the way."""
        now = time.time()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM seen WHERE at < ?", (now - self.ttl_s,))
                marks = ",".join("?" * len(keys))
                taken = db.execute(f"SELECT 1 FROM seen WHERE key IN ({marks})", tuple(keys))
                if taken.fetchone():
                    db.execute("COMMIT")
                    return False
                db.executemany("INSERT INTO seen VALUES (?, ?)", [(k, now) for k in keys])
                db.execute("COMMIT")
                return True
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # --- work in progress: an event taken but not yet answered survives a restart -----------

    def start_work(self, key: str, event: dict[str, Any], bot_user: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO work VALUES (?, ?, ?, NULL, ?)",
                (key, json.dumps(event), bot_user, time.time()),
            )

    def set_placeholder(self, key: str, ts: str) -> None:
        with self._lock:
            self._db.execute("UPDATE work SET placeholder_ts = ? WHERE key = ?", (ts, key))

    def finish_work(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM work WHERE key = ?", (key,))

    def unfinished(
        self, max_age_s: float
    ) -> list[tuple[str, dict[str, Any], str | None, str | None]]:
        """Events taken by a process that stopped before answering (newest first), and drop
        older ones: an answer hours late is worse than none."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM work WHERE at < ?", (now - max_age_s,))
            rows = self._db.execute(
                "SELECT key, event, bot_user, placeholder_ts FROM work ORDER BY at DESC"
            ).fetchall()
        return [(k, json.loads(e), u, p) for k, e, u, p in rows]

    def add_thread(self, channel: str, thread_ts: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO threads VALUES (?, ?, ?)", (channel, thread_ts, time.time())
            )

    def answered_thread(self, channel: str, thread_ts: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM threads WHERE channel = ? AND thread_ts = ?", (channel, thread_ts)
            ).fetchone()
        return row is not None

    def add_answer(
        self, channel: str, thread_ts: str | None, user: str | None, question: str, answer: Any
    ) -> str:
        answer_id = uuid.uuid4().hex[:16]
        with self._lock:
            self._db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (answer_id, channel, thread_ts, user, question, json.dumps(answer), time.time()),
            )
        return answer_id

    def record_message(self, channel: str, ts: str, answer_id: str) -> None:
        """The Slack message (``ts``) that shows an answer."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answer_messages VALUES (?, ?, ?)", (channel, ts, answer_id)
            )

    def answer_shown(self, channel: str, ts: str) -> str | None:
        """The plain text of the answer a bot message shows (its sentences, without markers),
        or None for a message this memory does not know."""
        with self._lock:
            row = self._db.execute(
                "SELECT a.answer FROM answer_messages m JOIN answers a ON a.id = m.answer_id"
                " WHERE m.channel = ? AND m.ts = ?",
                (channel, ts),
            ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        sentences = data.get("sentences") or []
        return " ".join(str(x.get("text", "")) for x in sentences) or str(data.get("text", ""))

    def add_feedback(self, answer_id: str, user: str | None, value: int) -> bool:
        """Record (or change) one user's vote on an answer; False for an unknown answer."""
        with self._lock:
            known = self._db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if not known:
                return False
            self._db.execute(
                "INSERT INTO feedback (answer_id, user, value, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user) DO UPDATE SET value = excluded.value,"
                " at = excluded.at",
                (answer_id, user, value, time.time()),
            )
        return True

    def feedback(self) -> Iterator[dict[str, Any]]:
        """Every vote with its question, answer and citations (oldest first)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT f.answer_id, f.user, f.value, f.at, a.question, a.answer, a.channel"
                " FROM feedback f JOIN answers a ON a.id = f.answer_id ORDER BY f.at, f.id"
            ).fetchall()
        for answer_id, user, value, at, question, answer, channel in rows:
            data = json.loads(answer)
            yield {
                "answer_id": answer_id,
                "question": question,
                "answer": data.get("text", ""),
                "status": data.get("status"),
                "mode": data.get("mode"),
                "citations": data.get("citations", []),
                "rating": value,
                "label": "good" if value > 0 else "bad",
                "user": user,
                "channel": channel,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
            }

    def close(self) -> None:
        with self._lock:
            self._db.close()
