"""The `azure` backend: Microsoft's Personalizer client behind the Ranker port.

Works with any Personalizer v1.0-compatible endpoint, including the one `python app.py personalizer` serves.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.personalizer.base import (
    EventNotFound,
    InvalidRequest,
    RankedAction,
    RankerUnavailable,
    RankRequest,
    RankResult,
)

try:
    from azure.cognitiveservices.personalizer import PersonalizerClient
    from azure.cognitiveservices.personalizer import models as azure_models
    from msrest.authentication import CognitiveServicesCredentials
    from msrest.exceptions import ClientRequestError, HttpOperationError, ValidationError
except ImportError as exc:  # pragma: no cover - exercised only without the package
    raise ImportError(
        "PERSONALIZER_BACKEND=azure needs Microsoft's client: "
        "pip install azure-cognitiveservices-personalizer==0.1.1 msrest==0.7.1"
    ) from exc

logger = logging.getLogger(__name__)


class AzureRanker:
    """A Ranker that calls a Personalizer v1.0 endpoint with Microsoft's official client."""

    def __init__(self, endpoint: str, key: str, timeout: float = 2.0) -> None:
        if not endpoint or not key:
            raise ValueError("AzureRanker needs PERSONALIZER_ENDPOINT and PERSONALIZER_KEY")
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self._client = PersonalizerClient(self.endpoint, CognitiveServicesCredentials(key))
        # One attempt, bounded: a dead endpoint must fail well within Slack's 3 s, and a retried POST /rank
        # would log a second event under the same ID.
        self._client.config.connection.timeout = timeout
        self._client.config.retry_policy.retries = 0
        # A 5xx is an answer to report, not a reason to try again.
        self._client.config.retry_policy.policy.status_forcelist = frozenset()
        self._client.config.redirect_policy.allow = False

    def __repr__(self) -> str:  # never shows the key
        return f"AzureRanker(endpoint={self.endpoint!r}, timeout={self.timeout})"

    def rank(self, request: RankRequest) -> RankResult:
        """Rank through POST /rank (201)."""
        fields: dict[str, Any] = {
            "context_features": request.context_features,
            "actions": [azure_models.RankableAction(id=a.id, features=a.features) for a in request.actions],
            "excluded_actions": list(request.excluded_actions),
            "event_id": request.event_id,  # None: the service makes one
            "defer_activation": request.defer_activation,
        }
        body = azure_models.RankRequest(**fields)
        response = self._call("rank", request.event_id, self._client.rank, rank_request=body)
        if response is None or response.reward_action_id is None or response.ranking is None:
            raise RankerUnavailable("Personalizer answered rank without a ranking")
        return RankResult(
            event_id=response.event_id or request.event_id or "",
            reward_action_id=response.reward_action_id,
            ranking=[RankedAction(id=r.id, probability=float(r.probability)) for r in response.ranking],
        )

    def reward(self, event_id: str, value: float) -> None:
        """Report a reward through POST /events/{eventId}/reward (204)."""
        self._call("reward", event_id, self._client.events.reward, event_id=event_id, value=float(value))

    def activate(self, event_id: str) -> None:
        """Activate a deferred event through POST /events/{eventId}/activate (204)."""
        self._call("activate", event_id, self._client.events.activate, event_id=event_id)

    def _call(self, operation: str, subject: str | None, method: Any, /, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except ValidationError as exc:
            raise InvalidRequest(str(exc), target=getattr(exc, "target", None)) from None
        except HttpOperationError as exc:
            raise _translate_http_error(operation, subject, exc) from None
        except ClientRequestError as exc:
            # str(exc) names the URL and the socket error, never the headers that carry the key.
            logger.warning("Personalizer %s at %s failed: %s", operation, self.endpoint, exc)
            raise RankerUnavailable(f"Personalizer {operation} failed: {_reason(exc)}") from None


def _translate_http_error(operation: str, event_id: str | None, exc: HttpOperationError) -> Exception:
    status = exc.response.status_code if exc.response is not None else 0
    code, message, target = _error_fields(exc)
    if status == 404 and event_id is not None and operation != "rank":
        return EventNotFound(event_id)
    if status == 400:
        return InvalidRequest(message or "Personalizer rejected the request", code or "BadRequest", target)
    logger.warning("Personalizer %s answered %s %s", operation, status, code or "")
    return RankerUnavailable(f"Personalizer {operation} answered {status} {code or ''}".rstrip())


def _error_fields(exc: HttpOperationError) -> tuple[str | None, str | None, str | None]:
    try:
        body = exc.response.json()
        error = body.get("error") or {}
        return error.get("code"), error.get("message"), error.get("target")
    except (ValueError, AttributeError):
        return None, None, None


def _reason(exc: ClientRequestError) -> str:
    inner = getattr(exc, "inner_exception", None)
    name = type(inner).__name__ if inner is not None else type(exc).__name__
    return {"ConnectTimeout": "timed out", "ReadTimeout": "timed out", "ConnectionError": "unreachable"}.get(
        name, name
    )
