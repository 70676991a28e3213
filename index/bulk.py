"""Bulk archives: a JSONL file (or a JSON array) of many articles, streamed record by record.

Memory stays bounded whatever the file's size: records are read one at a time and stored in
groups of ``group`` records. The per-document cap applies to each record, not to the file; a bad
record is skipped with its line (or record) number and the reason, and the rest go in. After
each stored group a checkpoint (the byte offset reached) is written under ``checkpoints``; a run
that was interrupted starts again from there, and since an unchanged article is a no-op, a
group stored twice duplicates nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from index.errors import ParseError
from index.parse import MAX_FILE_BYTES, ParseResult, records_to_articles

BULK_EXT = {".jsonl", ".ndjson"}
Record = tuple[str, Any, int]  # (where, the decoded object or a ParseError, offset after it)


def is_bulk(path: Path) -> bool:
    """JSONL always streams; a JSON file streams when it is over the per-document cap."""
    ext = path.suffix.lower()
    return ext in BULK_EXT or (ext == ".json" and path.stat().st_size > MAX_FILE_BYTES)


def iter_jsonl(path: Path, start: int = 0, cap: int = MAX_FILE_BYTES) -> Iterator[Record]:
    with path.open("rb") as f:
        f.seek(start)
        offset = start
        lineno = 0 if start == 0 else None
        for raw in f:
            offset += len(raw)
            if lineno is not None:
                lineno += 1
            where = f"line {lineno}" if lineno is not None else f"byte {offset - len(raw)}"
            if not raw.strip():
                continue
            if len(raw) > cap:
                yield where, ParseError(f"record too large ({len(raw)} bytes > {cap})"), offset
                continue
            try:
                yield where, json.loads(raw.decode("utf-8-sig")), offset
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
                yield where, ParseError(f"invalid JSON ({msg})"), offset


def iter_json_array(path: Path, start: int = 0, cap: int = MAX_FILE_BYTES) -> Iterator[Record]:
    """The objects of a top-level JSON array (or ``{"articles": [...]}``), one at a time."""
    decoder = json.JSONDecoder()
    with path.open("rb") as f:
        text = ""
        base = 0  # byte offset of text[0]
        if start:
            f.seek(start)
            base = start
        else:
            head = f.read(65536).decode("utf-8-sig", "replace")
            i = head.find("[")
            if i < 0:
                raise ParseError(f"{path}: not a JSON array of articles")
            base = len(head[: i + 1].encode())
            text = head[i + 1 :]
        n = 0
        while True:
            stripped = text.lstrip(" \t\r\n,")
            base += len(text[: len(text) - len(stripped)].encode())
            text = stripped
            if text.startswith("]"):
                return
            try:
                obj, end = decoder.raw_decode(text)
            except json.JSONDecodeError:
                more = f.read(1 << 20)
                if not more:
                    if text.strip():
                        yield f"record {n}", ParseError("truncated JSON at the end"), base
                    return
                if len(text) > cap:
                    raise ParseError(f"{path}: record {n} over {cap} bytes") from None
                text += more.decode("utf-8", "replace")
                continue
            base += len(text[:end].encode())
            text = text[end:]
            yield f"record {n}", obj, base
            n += 1


class Checkpoints:
    """Offsets reached in bulk files, by file identity (path, size, modification time)."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def _file(self, path: Path) -> Path | None:
        if self.folder is None:
            return None
        st = path.stat()
        key = f"{path.resolve()}\n{st.st_size}\n{st.st_mtime_ns}"
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"

    def get(self, path: Path) -> int:
        f = self._file(path)
        try:
            return int(json.loads(f.read_text())["offset"]) if f else 0
        except (OSError, ValueError, KeyError):
            return 0

    def put(self, path: Path, offset: int) -> None:
        f = self._file(path)
        if f is None:
            return
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"path": str(path), "offset": offset}))
        os.replace(tmp, f)

    def done(self, path: Path) -> None:
        f = self._file(path)
        if f is not None:
            f.unlink(missing_ok=True)


def stream_groups(
    path: Path,
    checkpoints: Checkpoints,
    group: int = 256,
    on_record: Callable[[], None] | None = None,
) -> Iterator[tuple[ParseResult, int]]:
    """(articles and problems of up to ``group`` records, the offset after them), from the
    checkpoint on."""
    start = checkpoints.get(path)
    records = (
        iter_jsonl(path, start) if path.suffix.lower() in BULK_EXT else iter_json_array(path, start)
    )
    result = ParseResult(path)
    pending = 0
    offset = start
    for where, obj, offset in records:
        if isinstance(obj, ParseError):
            result.problems.append(f"{where}: {obj}")
        else:
            records_to_articles([(where, obj)], str(path), result)
        pending += 1
        if on_record:
            on_record()
        if pending >= group:
            yield result, offset
            result, pending = ParseResult(path), 0
    if pending or not result.articles:
        yield result, offset
