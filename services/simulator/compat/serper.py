"""Serper's shape on ``POST /serper/search``: ``{"q", "num"}`` in, ``organic`` results out.

Serper (https://serper.dev) takes one query object or a list of them, with the key in ``X-API-KEY``.
There is no official Python client whose base URL can change, so clients here are plain HTTP: set the URL
to ``http://<simulator>/serper/search`` and ``X-API-KEY`` to ``ZEROSEARCH_API_KEY``. Unknown fields
(``gl``, ``hl``, ``page``, ``type``, ...) are accepted and ignored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from zerosearch.common.defaults import DEFAULT_TOP_K, MAX_TOP_K
from zerosearch.simulator.compat.common import (
    COMPAT_ERRORS,
    MAX_CLIENT_BATCH,
    SimulationExtras,
    SimulationHeaders,
    merge_extras,
    result_link,
    served_as,
    simulate_many,
)
from zerosearch.simulator.deps import ServiceDep
from zerosearch.simulator.schemas import NonBlankText, SearchResponse

__all__ = ["SerperRequest", "SerperResponse", "router"]

router = APIRouter(tags=["compat: web-search APIs"], responses=COMPAT_ERRORS)


class SerperRequest(SimulationExtras):
    """One Serper query object, plus the simulation extras."""

    q: NonBlankText = Field(description="The search query.")
    num: int = Field(default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K, description=f"Results, 1 to {MAX_TOP_K}.")


class SerperOrganic(BaseModel):
    """One organic result, in Serper's field names."""

    title: str
    link: str
    snippet: str
    position: int


class SerperResponse(BaseModel):
    """Serper's answer: the parameters searched, the organic results; ``zerosearch`` says how it was served."""

    searchParameters: dict[str, str | int]
    organic: list[SerperOrganic]
    credits: int = 0
    zerosearch: dict[str, str | bool | None] = Field(description="mode, cached, model, warning.")


def _answer(body: SerperRequest, response: SearchResponse) -> SerperResponse:
    organic = [
        SerperOrganic(title=d.title, link=result_link(response.query, d), snippet=d.text, position=d.rank)
        for d in response.documents
    ]
    return SerperResponse(
        searchParameters={"q": body.q, "num": body.num, "type": "search", "engine": "google"},
        organic=organic,
        zerosearch=served_as(response),
    )  # fmt: skip


async def _serper_bodies(request: Request) -> list[SerperRequest]:
    """The query objects of the body (one object or a list), validated with errors naming the field."""
    try:
        raw = await request.json()
    except ValueError:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "malformed JSON"}]
        ) from None
    single = not isinstance(raw, list)
    try:
        return _BODIES.validate_python([raw] if single else raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *(e["loc"][1:] if single else e["loc"]))} for e in exc.errors()]
        raise RequestValidationError(errors) from None


_BODIES = TypeAdapter(Annotated[list[SerperRequest], Field(min_length=1, max_length=MAX_CLIENT_BATCH)])
_ONE = {
    k: v
    for k, v in SerperRequest.model_json_schema(ref_template="#/components/schemas/{model}").items()
    if k != "$defs"
}
_BODY_SCHEMA = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [_ONE, {"type": "array", "items": _ONE, "minItems": 1, "maxItems": MAX_CLIENT_BATCH}]
            }
        }
    },
}


@router.post(
    "/serper/search",
    response_model=SerperResponse | list[SerperResponse],
    summary="Serper-shaped search (one query object or a list)",
    openapi_extra={"requestBody": _BODY_SCHEMA},
)
async def serper_search(
    request: Request,
    bodies: Annotated[list[SerperRequest], Depends(_serper_bodies)],
    headers: Annotated[SimulationHeaders, Header()],
    service: ServiceDep,
) -> SerperResponse | list[SerperResponse]:
    """``num`` simulated organic results a query; a list of queries is generated as one batch."""
    calls = [(b.q, b.num, merge_extras(b, headers)) for b in bodies]
    responses = await simulate_many(service, calls)
    answers = [_answer(b, r) for b, r in zip(bodies, responses, strict=True)]
    return answers if isinstance(await request.json(), list) else answers[0]
