"""Every exception the service answers, mapped to Personalizer's status code and error body, in one place."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.personalizer.base import EventNotFound, InvalidRequest, RankerUnavailable

logger = logging.getLogger(__name__)


class TooLarge(Exception):
    """The body is over the limit for its route."""


class SlowBody(Exception):
    """The body did not arrive in time."""


def error_body(code: str, message: str, target: str | None = None) -> dict[str, Any]:
    """Personalizer's error body: {"error": {"code", "message", "target"?}}."""
    error: dict[str, Any] = {"code": code, "message": message}
    if target:
        error["target"] = target
    return {"error": error}


UNAUTHORIZED = error_body("401", "Access denied due to a missing or invalid subscription key.")


def error_payload(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Personalizer's status code and error body for any exception of the wire layer or the loop."""
    if isinstance(exc, InvalidRequest):
        return 400, error_body(exc.code or "BadRequest", exc.message, exc.target)
    if isinstance(exc, EventNotFound):
        return 404, error_body("ResourceNotFound", str(exc), "eventId")
    if isinstance(exc, TooLarge):
        return 413, error_body("PayloadSizeExceeded", str(exc))
    if isinstance(exc, SlowBody):
        return 408, error_body("RequestTimeout", str(exc))
    if isinstance(exc, RankerUnavailable):
        logger.error("learning loop unavailable: %s", exc)
        # Only what the loop marked as fit for clients (a full or read-only disk) is shown; the rest is logged.
        shown = getattr(exc, "client_message", None) or "The learning loop is unavailable; try again."
        return 503, error_body("ServiceUnavailable", shown)
    logger.exception("unexpected error", exc_info=exc)
    return 500, error_body("InternalServerError", "An unexpected error occurred.")


def error_response(exc: BaseException) -> JSONResponse:
    """error_payload() as a Starlette response."""
    status, payload = error_payload(exc)
    return JSONResponse(payload, status_code=status)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no route, wrong method) in Personalizer's shape."""
    status = getattr(exc, "status_code", 500)
    if status == 404:
        body = error_body("ResourceNotFound", f"No resource at {request.url.path}.")
    elif status == 405:
        body = error_body("MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}.")
    else:
        body = error_body("BadRequest", str(getattr(exc, "detail", "Bad request")))
    return JSONResponse(body, status_code=status)


async def unexpected(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback (never with the key), answered as a 500."""
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("InternalServerError", "An unexpected error occurred."), status_code=500)


EXCEPTION_HANDLERS = {HTTPException: http_exception, Exception: unexpected}
