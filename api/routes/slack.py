"""``POST /slack/events``: Slack's Events API and interactivity, verified by bolt."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from api.deps import AnswersDep
from api.errors import ApiError, error_response

router = APIRouter(include_in_schema=False)


@router.post("/slack/events")
async def slack_events(request: Request, answers: AnswersDep) -> Response:
    bot = request.app.state.slack
    if bot is None:
        raise ApiError(
            404,
            "slack_disabled",
            "the Slack bot is off: set QA_SLACK__BOT_TOKEN and QA_SLACK__SIGNING_SECRET",
        )
    body = await request.body()
    try:
        # bolt parses the body before it checks the signature: garbage must not reach it
        bolt_request = to_bolt_request(request, body)
        response = await answers.run(bot.dispatch, bolt_request)
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
        raise ApiError(400, "bad_request", "not a Slack request payload") from None
    if response.status >= 500:
        # bolt answers 500 when its middleware cannot handle a (signed) payload's shape
        raise ApiError(400, "bad_request", "the Slack payload has an unexpected shape")
    if response.status == 401:
        return error_response(
            401, "invalid_signature", "the Slack signature is missing, wrong or too old"
        )
    return to_starlette_response(response)
