"""The simulator's HTTP routes: thin, they validate via schemas and call the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from zerosearch.common.errors import EngineError
from zerosearch.simulator.deps import ServiceDep
from zerosearch.simulator.errors import EngineNotReadyError
from zerosearch.simulator.schemas import (
    ERROR_RESPONSES,
    BatchSearchRequest,
    BatchSearchResponse,
    RetrieveRequest,
    RetrieveResponse,
    SearchParams,
    SearchResponse,
)

__all__ = ["health_router", "router"]

# The API-key guard is attached by the app factory only when a key is set, so /openapi.json declares
# security exactly when it is enforced.
router = APIRouter(responses=ERROR_RESPONSES)
health_router = APIRouter()


@router.get("/search", response_model=SearchResponse, summary="Simulate one search call")
async def search(params: Annotated[SearchParams, Query()], service: ServiceDep) -> SearchResponse:
    """k documents for ``q``; with probability ``noise`` the whole call is noisy (one draw per call)."""
    [result] = await service.search_many([params])
    return result


@router.post("/search", response_model=BatchSearchResponse, summary="Simulate a batch of search calls")
async def search_batch(body: BatchSearchRequest, service: ServiceDep) -> BatchSearchResponse:
    """Several calls generated together (e.g. a rollout batch); results in request order."""
    results = await service.search_many(body.requests)
    return BatchSearchResponse(results=results, count=len(results))


@router.post("/retrieve", response_model=RetrieveResponse, summary="Search-R1 retrieval-server shape")
async def retrieve(body: RetrieveRequest, service: ServiceDep) -> RetrieveResponse:
    """Search-R1's ``/retrieve``: ``{"queries", "topk", "return_scores"}`` → ``{"result": [[...]]}``."""
    return await service.retrieve(body)


@health_router.get("/readyz", summary="Engine loaded and answering")
async def readyz(service: ServiceDep) -> dict[str, str]:
    """200 when the engine can generate; 503 with the error envelope otherwise (no key needed: probes)."""
    try:
        await service.engine.check()
    except EngineError as exc:
        raise EngineNotReadyError(exc.message) from exc
    return {"status": "ready", "engine": service.engine.name, "model": service.engine.model_name}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Requests, latency, batch sizes, queue depth, cache hits and tokens, in Prometheus text format."""
    body = request.app.state.metrics.render()
    return Response(content=body, media_type="text/plain; version=0.0.4; charset=utf-8")


@health_router.get("/healthz", summary="Process up")
async def healthz() -> dict[str, str]:
    """Always 200 while the process runs (no key needed, for liveness probes)."""
    return {"status": "ok"}
