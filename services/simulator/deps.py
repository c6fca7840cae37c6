"""Request dependencies: the API-key guard and the service object kept on ``app.state``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from zerosearch.simulator.errors import AuthenticationError
from zerosearch.simulator.service import SimulatorService

__all__ = ["ServiceDep", "get_service", "require_api_key"]

# auto_error=False: a missing key is ours to report, in our envelope, with 401 (not FastAPI's 403).
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <ZEROSEARCH_API_KEY>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <ZEROSEARCH_API_KEY>")
# The keys other clients send (SerpAPI: ?api_key=, Brave: X-Subscription-Token; Serper's X-API-KEY and
# Tavily's Bearer are the two above), so those clients work with only their base URL changed.
_subscription = APIKeyHeader(
    name="X-Subscription-Token", auto_error=False, description="X-Subscription-Token: <key> (Brave clients)"
)
_query = APIKeyQuery(name="api_key", auto_error=False, description="?api_key=<key> (SerpAPI clients)")


def require_api_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
    subscription: Annotated[str | None, Depends(_subscription)] = None,
    query: Annotated[str | None, Depends(_query)] = None,
) -> None:
    """When ZEROSEARCH_API_KEY is set, accept ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    expected = request.app.state.settings.api_key
    if expected is None:
        return
    given = bearer.credentials if bearer is not None else header or subscription or query
    # compare_digest: the time taken must not tell how much of a guessed key was right.
    if not given or not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise AuthenticationError(
            "missing or wrong API key: send Authorization: Bearer <key> or X-API-Key: <key>",
            param="api_key",
        )


def get_service(request: Request) -> SimulatorService:
    """The app's service object, built at start-up."""
    return request.app.state.service


ServiceDep = Annotated[SimulatorService, Depends(get_service)]
