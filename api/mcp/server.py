"""The archive as an MCP server (the official ``mcp`` SDK): tools ``search_news``, ``ask_news``
and ``get_article``, and the resource ``article://{id}``.

``ask_news`` returns what it takes to check an answer: the text, every citation with its exact
quote and character span, the status and its reason, and the warnings. The tools go through the
same answer queue (its gates and ``Busy``) and archive as ``/v1``. Bad arguments come back as
tool errors that say what is wrong; they never end the session and never change what is stored.

Transports: stdio (``qa mcp``) and streamable HTTP mounted on the API at ``/mcp`` (behind the
same API keys and body limits as ``/v1``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field

from api.queue import AnswerQueue, AskRequest, Busy
from index.model import Filters
from qa.archive import Archive
from qa.errors import QAError

INSTRUCTIONS = (
    "A news archive that answers questions with checked citations. Use ask_news for a"
    " question: every sentence of its answer carries [n], and citations[n-1] holds the exact"
    " quote (article text[start:end]) that supports it; when the sources do not hold the"
    " answer, status is insufficient_evidence and reason says why: report that, do not guess."
    " Use search_news to look for passages, get_article to read one article."
)


def _day(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: not a date in YYYY-MM-DD form: {value!r}") from None


def build_mcp(answers: AnswerQueue, archive: Archive) -> Any:
    """An ``MCPServer`` over the answer queue and the archive."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer(
        name="newsqa", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING"
    )

    async def guarded(fn: Any, *args: Any) -> Any:
        try:
            return await answers.run(fn, *args)
        except (QAError, ValueError, Busy) as exc:
            raise ToolError(str(exc)) from None

    @server.tool(
        description="Search the news archive: passages ranked by relevance (dense + keyword),"
        " each with its article id, title, source, date, URL and character span. Dates are"
        " YYYY-MM-DD; sources are publisher names as stored (e.g. 'PTI')."
    )
    async def search_news(
        query: Annotated[str, Field(description="what to look for", min_length=1, max_length=2000)],
        k: Annotated[int, Field(ge=1, le=50, description="how many passages")] = 5,
        date_from: Annotated[
            str | None, Field(description="published on or after (YYYY-MM-DD)")
        ] = None,
        date_to: Annotated[
            str | None, Field(description="published on or before (YYYY-MM-DD)")
        ] = None,
        sources: Annotated[list[str] | None, Field(description="only these sources")] = None,
    ) -> dict[str, Any]:
        try:
            filters = Filters(
                sources=tuple(sources or ()),
                date_from=_day(date_from, "date_from"),
                date_to=_day(date_to, "date_to"),
            )
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        passages = await guarded(archive.search, query, k, filters, "hybrid")
        return {
            "query": query,
            "passages": [
                {
                    "article_id": p.article_id,
                    "title": p.title,
                    "source": p.source,
                    "published": p.published,
                    "url": p.url,
                    "start": p.start,
                    "end": p.end,
                    "text": p.text,
                    "score": round(p.score, 4),
                }
                for p in passages
            ],
        }

    @server.tool(
        description="Answer a question from the archive. Returns the answer text (each"
        " sentence ends with [n]), the citations (n, exact quote, start/end in the article,"
        " article id, title, source, date, URL, support), the status (answered, partial,"
        " conflicting_sources, insufficient_evidence) with its reason, and warnings."
    )
    async def ask_news(
        question: Annotated[str, Field(description="the question", min_length=1, max_length=2000)],
        as_of: Annotated[
            str | None,
            Field(description="the day 'this week' and 'latest' refer to (YYYY-MM-DD; today)"),
        ] = None,
        mode: Annotated[
            Literal["local", "openai", "extractive"] | None,
            Field(
                description="who writes the answer: the local model, a model server, or"
                " source sentences verbatim (default: the service's)",
            ),
        ] = None,
    ) -> dict[str, Any]:
        try:
            req = AskRequest(question, mode=mode, as_of=_day(as_of, "as_of"))
            answer = await answers.answer(req)
        except (QAError, ValueError, Busy) as exc:
            raise ToolError(str(exc)) from None
        return {
            "text": answer.text,
            "status": answer.status,
            "reason": answer.reason,
            "mode": answer.mode,
            "warnings": list(answer.warnings),
            "citations": [
                {
                    "n": c.n,
                    "quote": c.quote,
                    "start": c.start,
                    "end": c.end,
                    "article_id": c.article_id,
                    "title": c.title,
                    "source": c.source,
                    "published": c.published,
                    "url": c.url,
                    "support": c.support,
                }
                for c in answer.citations
            ],
        }

    def article_json(article_id: str) -> dict[str, Any]:
        a = archive.get(article_id).article
        return {
            "id": a.id,
            "title": a.title,
            "source": a.source,
            "published": a.published.iso() if a.published else None,
            "url": a.url,
            "text": a.text,
        }

    @server.tool(description="One stored article with its full text (spans index this text).")
    async def get_article(
        id: Annotated[str, Field(description="an article id, as search_news or ask_news give it")],
    ) -> dict[str, Any]:
        result: dict[str, Any] = await guarded(article_json, id)
        return result

    @server.resource("article://{id}", description="A stored article: its text and metadata")
    async def article(id: str) -> dict[str, Any]:
        result: dict[str, Any] = await guarded(article_json, id)
        return result

    return server
