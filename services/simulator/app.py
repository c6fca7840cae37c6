"""The app factory: assembles settings, engine, cache, service, routes and error handlers.

    app = create_app(SimulatorSettings(redis_url="redis://127.0.0.1:6379/0"))
    uvicorn.run(app, host="127.0.0.1", port=8000)

An ``engine`` may be passed in (tests and benches share one loaded model between several apps); it is
started with the app and closed with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from zerosearch.simulator.cache import ResponseCache
from zerosearch.simulator.compat import register_compat
from zerosearch.simulator.deps import require_api_key
from zerosearch.simulator.engines.base import Engine
from zerosearch.simulator.engines.factory import create_engine
from zerosearch.simulator.errors import register_error_handlers
from zerosearch.simulator.guard import RequestGuard
from zerosearch.simulator.metrics import SimulatorMetrics
from zerosearch.simulator.routes import health_router, router
from zerosearch.simulator.service import SimulatorService
from zerosearch.simulator.settings import SimulatorSettings, get_simulator_settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _lifespan(settings: SimulatorSettings, engine: Engine | None):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics: SimulatorMetrics = app.state.metrics
        the_engine = engine or create_engine(settings)
        the_engine.bind_metrics(metrics)
        await the_engine.start()
        cache = ResponseCache(
            settings.redis_url,
            ttl_s=settings.cache_ttl_s,
            timeout_s=settings.cache_timeout_s,
            metrics=metrics,
        )
        app.state.service = SimulatorService(settings, the_engine, cache, metrics)
        log.info("simulator ready: engine=%s model=%s", the_engine.name, the_engine.model_name)
        try:
            yield
        finally:
            await the_engine.aclose()
            await cache.aclose()

    return lifespan


def _document_batch_limit(app: FastAPI, limit: int) -> None:
    """Put the configured batch limit into /openapi.json (it is a setting, so the schemas cannot hold it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            schemas = spec.get("components", {}).get("schemas", {})
            for model, field in (("BatchSearchRequest", "requests"), ("RetrieveRequest", "queries")):
                if model in schemas:
                    schemas[model]["properties"][field]["maxItems"] = limit
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: SimulatorSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """A FastAPI app serving the simulator API (OpenAPI at /docs)."""
    settings = settings or get_simulator_settings()
    app = FastAPI(
        title="ZeroSearch simulator",
        summary="An LLM that plays a search engine: useful or noisy documents on demand.",
        version="0.1.0",
        lifespan=_lifespan(settings, engine),
    )
    app.state.settings = settings
    app.state.metrics = SimulatorMetrics()
    register_error_handlers(app)
    app.include_router(health_router)
    guard = [Depends(require_api_key)] if settings.api_key is not None else []
    app.include_router(router, dependencies=guard)
    register_compat(app, guard)  # other clients' shapes, MCP, /tools/openai (zerosearch.simulator.compat)

    _document_batch_limit(app, settings.max_request_batch)

    # Outermost of our layers: auth, header/body/nesting bounds, metrics, last-resort 500 (guard.py).
    app.add_middleware(RequestGuard, settings=settings, metrics=app.state.metrics)
    return app
