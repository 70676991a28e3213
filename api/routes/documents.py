"""Documents: add (JSON articles or a file upload), list, read and delete."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import AnswersDep, ArchiveDep
from api.errors import ApiError
from api.queue import AnswerQueue
from api.schemas import (
    ArticleId,
    Deleted,
    DocumentDetail,
    DocumentPage,
    DocumentsIn,
    IngestOut,
)
from index.model import Article
from index.parse import KNOWN_EXT
from index.store import ArticleRecord
from qa.archive import Archive
from qa.errors import InputError, UnsupportedFile

router = APIRouter(prefix="/documents", tags=["documents"])

MAX_FILES = 20

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/DocumentsIn"},
                "example": {
                    "articles": [
                        {
                            "title": "China, Russia propose regional security dialogue",
                            "text": "China and Russia on Tuesday proposed ...",
                            "source": "PTI",
                            "published": "2021-03-23",
                        }
                    ]
                },
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "text, Markdown, HTML, JSON or JSONL files",
                        }
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


def _summary(rec: ArticleRecord) -> dict[str, Any]:
    a = rec.article
    return {
        "id": a.id,
        "title": a.title,
        "source": a.source,
        "author": a.author,
        "published": a.published.iso() if a.published else None,
        "url": a.url,
        "n_chunks": rec.n_chunks,
    }


async def _json_articles(request: Request) -> tuple[list[Article], list[tuple[str, str]]]:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": "JSON decode error",
                    "ctx": {"error": str(exc)},
                }
            ]
        ) from None
    try:
        body = DocumentsIn.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    articles: list[Article] = []
    skipped: list[tuple[str, str]] = []
    for i, doc in enumerate(body.articles):
        try:
            articles.append(
                Archive.article(
                    title=doc.title or "",
                    text=doc.text,
                    source=doc.source,
                    author=doc.author,
                    published=doc.published,
                    url=doc.url,
                )
            )
        except InputError as exc:
            if str(exc).startswith("published:"):
                raise ApiError(422, "validation_error", f"articles.{i}.{exc}") from None
            skipped.append((f"articles.{i}", str(exc)))
    return articles, skipped


async def _uploaded_articles(
    request: Request, answers: AnswerQueue
) -> tuple[list[Article], list[tuple[str, str]]]:
    form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    files = [v for v in form.getlist("file") if isinstance(v, UploadFile)]
    if not files:
        raise ApiError(422, "validation_error", "file: no file in the upload (field 'file')")
    articles: list[Article] = []
    skipped: list[tuple[str, str]] = []
    for upload in files:
        name = PurePath(upload.filename or "upload.txt").name or "upload.txt"
        raw = await upload.read()
        found, problems = await answers.run(Archive.parse, raw, name)
        articles.extend(found)
        skipped.extend((name, p) for p in problems)
    if not articles:
        reasons = "; ".join(f"{n}: {r}" for n, r in skipped) or "nothing readable"
        known = ", ".join(sorted(e for e in KNOWN_EXT if e))
        raise UnsupportedFile(f"no article could be read ({reasons}); readable: {known}")
    return articles, skipped


@router.post(
    "",
    response_model=IngestOut,
    status_code=201,
    summary="Add articles (JSON) or files (multipart upload)",
    openapi_extra=UPLOAD_DOC,
    responses={200: {"description": "nothing new: every article was already stored"}},
)
async def add_documents(
    request: Request, response: Response, archive: ArchiveDep, answers: AnswersDep
) -> Any:
    """Store articles: new ones are added, changed ones replace their old version, unchanged
    ones are a no-op (and the response says so)."""
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith("multipart/form-data"):
        articles, skipped = await _uploaded_articles(request, answers)
    elif ctype.startswith("application/json") or not ctype:
        articles, skipped = await _json_articles(request)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send application/json or multipart/form-data, not {ctype!r}",
        )
    if not articles:
        raise ApiError(
            422,
            "validation_error",
            "no article to store: " + "; ".join(f"{w}: {r}" for w, r in skipped),
        )
    report = await answers.run(archive.add, articles)
    report.skipped.extend(skipped)
    status = {i: "added" for i in report.added}
    status.update({i: "updated" for i in report.updated})
    docs = [
        {"id": a.id, "title": a.title, "status": status.get(a.id, "unchanged")}
        for a in {a.id: a for a in articles}.values()
    ]
    if not report.added and not report.updated:
        response.status_code = 200
        message = "unchanged: every article was already stored; nothing was written"
    else:
        message = (
            f"{len(report.added)} added, {len(report.updated)} updated,"
            f" {len(report.unchanged)} unchanged; {report.chunks} chunk(s) written"
        )
    return {
        "documents": docs,
        "added": len(report.added),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "skipped": [{"item": w, "reason": r} for w, r in report.skipped],
        "chunks": report.chunks,
        "message": message,
    }


@router.get("", response_model=DocumentPage, summary="List stored articles (paged)")
async def list_documents(
    archive: ArchiveDep,
    answers: AnswersDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    records = await answers.run(archive.articles, offset, limit)
    total = await answers.run(archive.count)
    return {
        "items": [_summary(r) for r in records],
        "offset": offset,
        "limit": limit,
        "total": total,
    }


DocId = Annotated[ArticleId, Path(description="article id, as listed", examples=["c" + "0" * 20])]


@router.get("/{doc_id}", response_model=DocumentDetail, summary="One article with its text")
async def get_document(doc_id: DocId, archive: ArchiveDep, answers: AnswersDep) -> dict[str, Any]:
    rec = await answers.run(archive.get, doc_id)
    return {**_summary(rec), "text": rec.article.text, "dateline": rec.article.dateline}


@router.delete("/{doc_id}", response_model=Deleted, summary="Delete an article and its chunks")
async def delete_document(
    doc_id: DocId, archive: ArchiveDep, answers: AnswersDep
) -> dict[str, Any]:
    rec = await answers.run(archive.delete, doc_id)
    return {"id": doc_id, "deleted": True, "chunks": rec.n_chunks}
