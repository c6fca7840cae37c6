"""The simulator's logic, free of HTTP: draw the mode, look up the cache, generate, parse, respond.

    service = SimulatorService(settings, engine, cache, metrics)
    [result] = await service.search_many([SearchParams(q="who wrote moby dick", noise=0.3, seed=7)])

Noise follows the paper: one draw per search call, with probability ``noise`` the whole call is noisy;
all k documents share the mode. The draw uses ``random.Random(seed)`` when a seed is given (so it is
reproducible) and happens before the cache lookup (so the cache never changes the noisy rate).

Unseeded calls are sampled fresh every time, as in the paper (every rollout search is a new sample): they
are never looked up, stored or merged with identical calls of the same batch, so the rollouts of a GRPO
group that issue the same query see different documents. Seeded calls, and calls that ask for the cache
(``cache: true``), are cached and identical ones in a batch are generated once.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time

from zerosearch.common.defaults import DEFAULT_TOP_K
from zerosearch.common.documents import format_documents
from zerosearch.common.errors import ClientError, EngineError, EngineOverloadedError
from zerosearch.simulator.admission import Admission
from zerosearch.simulator.cache import ResponseCache, cache_key
from zerosearch.simulator.engines.base import Engine, Generation, GenerationRequest
from zerosearch.simulator.metrics import SimulatorMetrics
from zerosearch.simulator.parsing import parse_documents
from zerosearch.simulator.prompts import Mode, PromptStyle, build_prompt, postprocess_released
from zerosearch.simulator.schemas import (
    RetrieveDocument,
    RetrieveHit,
    RetrieveRequest,
    RetrieveResponse,
    SearchParams,
    SearchResponse,
)
from zerosearch.simulator.settings import SimulatorSettings

__all__ = ["SimulatorService", "cacheable", "draw_mode"]

log = logging.getLogger(__name__)

_SYSTEM_RANDOM = random.SystemRandom()


def draw_mode(params: SearchParams) -> Mode:
    """The call's mode: forced by ``mode``, else noisy with probability ``noise`` (one draw per call)."""
    if params.mode is not None:
        return params.mode
    rng = random.Random(params.seed) if params.seed is not None else _SYSTEM_RANDOM
    return Mode.NOISY if rng.random() < params.noise else Mode.USEFUL


def cacheable(params: SearchParams) -> bool:
    """True when the call may be served from / stored in the cache: seeded, or ``cache`` asked for."""
    return params.seed is not None or params.cache


class SimulatorService:
    """Serves search calls from the cache or the engine; built once per app and kept on ``app.state``."""

    def __init__(
        self, settings: SimulatorSettings, engine: Engine, cache: ResponseCache, metrics: SimulatorMetrics
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.cache = cache
        self.metrics = metrics
        self.admission = Admission(
            settings.latency_budget_s, metrics, min_retry_after_s=settings.retry_after_s
        )

    def _key(self, params: SearchParams, mode: Mode) -> str:
        s = self.settings
        return cache_key(
            model=self.engine.model_name, engine=self.engine.name, style=s.prompt_style.value, mode=mode.value,
            query=params.q, question=params.question, answer=params.answer, k=params.k, seed=params.seed,
            temperature=s.temperature, max_new_tokens=s.new_tokens_for(params.k),
        )  # fmt: skip

    def _request(self, params: SearchParams, mode: Mode) -> GenerationRequest:
        style = self.settings.prompt_style
        prompt = build_prompt(
            params.q, mode, question=params.question, answer=params.answer, k=params.k, style=style
        )
        # The released simulators' reference cuts at "Doc {k+1}"; the others stop at a header of it.
        after = f"Doc {params.k + 1}"
        stop = (after,) if style is PromptStyle.RELEASED else (f"{after}:", f"{after} ")
        return GenerationRequest(
            prompt=prompt, max_new_tokens=self.settings.new_tokens_for(params.k), seed=params.seed, stop=stop
        )

    async def search_many(self, items: list[SearchParams]) -> list[SearchResponse]:
        """Serve every call; cache misses are generated together as one engine batch."""
        if len(items) > self.settings.max_request_batch:
            raise ClientError(
                f"requests: at most {self.settings.max_request_batch} items per call, got {len(items)}",
                param="requests",
            )
        start = time.perf_counter()
        modes = [draw_mode(p) for p in items]
        keys = [self._key(p, m) if cacheable(p) else None for p, m in zip(items, modes, strict=True)]
        looked_up = [i for i, key in enumerate(keys) if key is not None]
        hits = await self.cache.get_many([keys[i] for i in looked_up])  # type: ignore[misc]
        results: list[SearchResponse | None] = [None] * len(items)
        for i, hit in zip(looked_up, hits, strict=True):
            if hit is not None:
                results[i] = SearchResponse.model_validate({**hit, "cached": True, "latency_ms": 0.0})
        misses = [i for i, r in enumerate(results) if r is None]
        if misses:
            await self._generate(items, modes, keys, misses, results)
        elapsed = (time.perf_counter() - start) * 1000
        final = [r for r in results if r is not None]
        for r in final:
            r.latency_ms = round(elapsed, 3)
            self.metrics.searches.labels(mode=r.mode.value).inc()
        return final

    async def _generate(
        self,
        items: list[SearchParams],
        modes: list[Mode],
        keys: list[str | None],
        misses: list[int],
        results: list[SearchResponse | None],
    ) -> None:
        # Identical cacheable calls in one batch are generated once (they would share the cached answer a
        # moment later anyway); every unseeded call is its own fresh sample.
        groups: dict[str, list[int]] = {}
        for i in misses:
            groups.setdefault(keys[i] or f"fresh:{i}", []).append(i)
        leaders = [members[0] for members in groups.values()]
        requests = [self._request(items[i], modes[i]) for i in leaders]
        try:
            with self.admission.admit(len(requests), self.engine.row_seconds):
                outputs = await self.engine.generate(requests)
        except EngineOverloadedError as exc:
            self.metrics.overloads.inc(len(requests))
            # Tell the client when the queue will have room: the expected drain time, not a constant.
            exc.retry_after = max(exc.retry_after, self.admission.drain_s(self.engine.row_seconds))
            raise
        except EngineError:
            self.metrics.engine_errors.inc()
            raise
        stores: dict[str, dict[str, object]] = {}
        for members, request, out in zip(groups.values(), requests, outputs, strict=True):
            response = self._respond(items[members[0]], modes[members[0]], request, out)
            for i in members:
                results[i] = response.model_copy(deep=True)
            key = keys[members[0]]
            if key is not None:
                stores[key] = response.model_dump(mode="json")
        await self.cache.set_many(stores)

    def _respond(
        self, params: SearchParams, mode: Mode, request: GenerationRequest, out: Generation
    ) -> SearchResponse:
        """Parse the generation into documents; fewer than k is reported, never padded."""
        text = out.text
        if self.settings.prompt_style is PromptStyle.RELEASED:
            text = postprocess_released(text, params.k)
        docs = parse_documents(text, params.k, truncated=out.truncated, prefix=request.prompt.prefix)
        warning = None
        if len(docs) < params.k:
            self.metrics.shortfalls.inc()
            warning = f"the simulator wrote {len(docs)} usable documents of the {params.k} asked for"
        return SearchResponse(
            query=params.q, mode=mode, noise=params.noise, k=params.k, documents=docs,
            formatted=format_documents(docs), cached=False, model=self.engine.model_name,
            latency_ms=0.0, warning=warning,
        )  # fmt: skip

    async def retrieve(self, request: RetrieveRequest) -> RetrieveResponse:
        """Search-R1's ``/retrieve``: one simulated search per query; score = 1/rank (descending)."""
        if len(request.queries) > self.settings.max_request_batch:
            raise ClientError(
                f"queries: at most {self.settings.max_request_batch} per call, got {len(request.queries)}",
                param="queries",
            )
        k = request.topk or DEFAULT_TOP_K
        items = [
            SearchParams(
                q=q, noise=request.noise, k=k, seed=None if request.seed is None else request.seed + i
            )
            for i, q in enumerate(request.queries)
        ]
        responses = await self.search_many(items)
        result: list[list[RetrieveHit]] | list[list[RetrieveDocument]] = []
        for response in responses:
            stem = hashlib.sha1(response.query.encode()).hexdigest()[:10]
            docs = [
                RetrieveDocument(id=f"sim-{stem}-{d.rank}", contents=f'"{d.title}"\n{d.text}')
                for d in response.documents
            ]
            if request.return_scores:
                result.append([RetrieveHit(document=d, score=1.0 / r) for r, d in enumerate(docs, 1)])  # type: ignore[arg-type]
            else:
                result.append(docs)  # type: ignore[arg-type]
        return RetrieveResponse(result=result)
