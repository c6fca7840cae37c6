"""``zerosearch simulator ...`` verbs."""

from __future__ import annotations

from typing import Annotated

import typer

from zerosearch.common.models import resolve_model
from zerosearch.common.preflight import require_port_free
from zerosearch.simulator.local import H11_MAX_HEAD_BYTES
from zerosearch.simulator.settings import get_simulator_settings

__all__ = ["app", "serve_main"]

app = typer.Typer(help="The search simulator: an LLM that plays a search engine.", no_args_is_help=True)


def serve_main(settings) -> int:  # type: ignore[no-untyped-def]
    """Serve the simulator API with uvicorn until interrupted; returns the exit code."""
    # FastAPI and uvicorn come with the optional `simulator` extra: imported when the server starts.
    import uvicorn

    from zerosearch.simulator.app import create_app
    from zerosearch.simulator.engines.factory import create_engine

    # A taken port, a missing vLLM or a wrong model is one red line from the CLI before the model loads,
    # instead of a failed application start-up after it.
    require_port_free(settings.host, settings.port)
    if settings.engine != "openai":
        resolve_model(settings.model)
    if settings.engine == "llamacpp":  # located (or built, once) before the app starts
        from zerosearch.simulator.engines.llama_server import llama_server_binary

        llama_server_binary(settings.llama_server_path)
    engine = create_engine(settings)
    uvicorn.run(
        create_app(settings, engine=engine),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        h11_max_incomplete_event_size=H11_MAX_HEAD_BYTES,  # oversized headers get the guard's 431
    )
    return 0


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on [env ZEROSEARCH_HOST].")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to listen on [env ZEROSEARCH_PORT].")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="transformers, llamacpp, vllm or openai [env ZEROSEARCH_ENGINE].")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Bundled alias, HF folder, .gguf or hub id [env ZEROSEARCH_MODEL].")
    ] = None,
    prompt_style: Annotated[
        str | None, typer.Option(help="prompt-only or tuned [env ZEROSEARCH_PROMPT_STYLE].")
    ] = None,
    max_batch_size: Annotated[int | None, typer.Option(help="Most requests generated together.")] = None,
    batch_wait_ms: Annotated[
        float | None, typer.Option(help="How long the batcher gathers requests.")
    ] = None,
    max_queue: Annotated[int | None, typer.Option(help="Waiting requests before 503s.")] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="Upper bound on new tokens per call.")] = None,
    dtype: Annotated[str | None, typer.Option(help="float32, bfloat16, float16 or auto.")] = None,
    quantize: Annotated[
        str | None, typer.Option(help="none or int8 (transformers engine on CPU: int8 Linear layers).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads (transformers: torch; llamacpp: llama-server).")
    ] = None,
    flash_attention: Annotated[
        str | None,
        typer.Option(
            help="measure (default: the faster on this machine, cached), on or off (engine=llamacpp)."
        ),
    ] = None,
    llama_server_path: Annotated[
        str | None,
        typer.Option(help="llama-server binary (engine=llamacpp) [env ZEROSEARCH_LLAMA_SERVER_PATH]."),
    ] = None,
    openai_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server, ending in /v1 (engine=openai).")
    ] = None,
) -> None:
    """Serve the simulator API (OpenAPI at /docs). The API key comes from ZEROSEARCH_API_KEY only."""
    settings = get_simulator_settings(
        host=host, port=port, engine=engine, model=model, prompt_style=prompt_style,
        max_batch_size=max_batch_size, batch_wait_ms=batch_wait_ms, max_queue=max_queue,
        max_new_tokens=max_new_tokens, dtype=dtype, quantize=quantize, threads=threads,
        flash_attention=flash_attention, llama_server_path=llama_server_path,
        openai_base_url=openai_base_url,
    )  # fmt: skip
    raise typer.Exit(serve_main(settings))


@app.command("build-llama-server")
def build_llama_server_cmd(
    force: Annotated[bool, typer.Option(help="Rebuild even when our cached build exists.")] = False,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Parallel compile jobs (default: every core).")
    ] = None,
) -> None:
    """Build llama.cpp's llama-server (engine=llamacpp) from the llama-cpp-python sdist on PyPI, once.

    Prints the binary's path. A llama-server on PATH or ZEROSEARCH_LLAMA_SERVER_PATH makes this unnecessary.
    """
    from zerosearch.simulator.engines.llama_server import build_llama_server, find_llama_server

    found = None if force else find_llama_server(get_simulator_settings().llama_server_path)
    typer.echo(str(found or build_llama_server(jobs=jobs, force=force)))
