"""``POST /slack/events``: Slack's Events API and interactivity, verified by bolt."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from api.deps import ServiceDep
from api.errors import ApiError, error_response

router = APIRouter(include_in_schema=False)


@router.post("/slack/events")
async def slack_events(request: Request, service: ServiceDep) -> Response:
    bot = service.slack
    if bot is None:
        raise ApiError(
            404,
            "slack_disabled",
            "the Slack bot is off: set QA_SLACK__BOT_TOKEN and QA_SLACK__SIGNING_SECRET",
        )
    body = await request.body()
    try:
        bolt_request = to_bolt_request(request, body)
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", "the body is not UTF-8") from None
    response = await service.run(bot.dispatch, bolt_request)
    if response.status == 401:
        return error_response(
            401, "invalid_signature", "the Slack signature is missing, wrong or too old"
        )
    return to_starlette_response(response)
