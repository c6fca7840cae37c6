"""A GRPO run survives its simulator crashing and coming back on the same port mid-run.

A live `zerosearch simulator serve` process answers a short in-process GRPO run (cold-started bundled
model, so it searches; the real HTTP client, retries, agent loop and trainer). The search backend the run
gets is wrapped at its one seam, ``search_many``, so the outage lands at precise moments:

1. Step 1, before its search turn: the simulator is SIGKILLed (its whole process group, as a crash).
   The search goes through an impatient client (3 attempts, 0.5 s + 1 s of back-off), far shorter than a
   restart (seconds just to load the model): every search of the step falls back to "No information
   available." and is counted in ``failed_searches``.
2. Step 2, before its search turn: a new simulator starts on the same port, and the search goes through
   the trainer's own client (``connect_simulator``: the config's ``search_retry``, 5 attempts with
   1+2+4+8 s of back-off): the first attempts are refused, a later one is answered by the restarted
   process; nothing falls back.
3. Step 3: searches succeed at the first attempt.

Checked: the run finishes every step (metrics 1-3, the last checkpoint and the final model), the failures are counted where they
happened and nowhere else, and the restarted process served the later searches (its /metrics).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from zerosearch.common.connection import free_port
from zerosearch.common.defaults import NO_INFORMATION
from zerosearch.common.processes import Child, Supervisor, zerosearch_command
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult
from zerosearch.common.search.factory import make_backend
from zerosearch.trainer.config import TrainConfig, parse_train_config
from zerosearch.trainer.grpo import connect_simulator, train

pytestmark = pytest.mark.slow

STEPS = 3
IMPATIENT = {"retries": 3, "backoff_s": 0.5}
"""Retries far shorter than a restart of the bundled model (0.5 + 1 s of back-off)."""


class SimulatorProcess:
    """The live simulator on one fixed port: crash it, start it again."""

    def __init__(self, sup: Supervisor, port: int, env: dict[str, str]) -> None:
        self.sup, self.port, self.env = sup, port, env
        self.url = f"http://127.0.0.1:{port}"
        self.started: list[Child] = []
        self.child: Child | None = None

    def start(self) -> Child:
        """Start a simulator (no wait: the caller decides whether to wait for /readyz)."""
        command = zerosearch_command(
            "simulator", "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--engine", "transformers", "--model", "smollm2-135m",
            "--max-new-tokens", "24",  # short documents keep CPU generation quick
        )  # fmt: skip
        self.child = self.sup.start(f"simulator-{len(self.started) + 1}", command, env=self.env)
        self.started.append(self.child)
        return self.child

    def crash(self) -> None:
        """SIGKILL the simulator's process group, as a machine crash would, and reap it."""
        assert self.child is not None and self.child.alive, "the simulator was already down"
        os.killpg(self.child.process.pid, signal.SIGKILL)
        self.child.process.wait(timeout=10)
        self.sup.children.remove(self.child)  # reaped: its pid must never be signalled again

    def served(self) -> float:
        """Search calls the running process served (its Prometheus counter, every mode)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("zerosearch_simulator_searches_total")
        )


@dataclass
class Call:
    """One search turn as the trainer made it: its requests, what came back, how long it took."""

    requests: list[SearchRequest]
    results: list[SearchResult]
    seconds: float


class OutageScript(SearchBackend):
    """The trainer's search backend, with the simulator crashed at turn 1 and restarted at turn 2.

    ``impatient`` gives up long before a restart ends; ``patient`` is the trainer's own client (the
    config's ``search_retry``), whose budget outlasts a restart. Every turn is recorded in ``calls``.
    """

    name = "outage-script"

    def __init__(self, simulator: SimulatorProcess, impatient: SearchBackend, patient: SearchBackend) -> None:
        super().__init__(retries=1)
        self.simulator, self.impatient, self.patient = simulator, impatient, patient
        self.calls: list[Call] = []

    async def _search_once(self, request: SearchRequest) -> SearchResult:
        raise AssertionError("search_many is delegated whole; single attempts never reach here")

    async def search_many(self, requests: list[SearchRequest]) -> list[SearchResult]:
        turn = len(self.calls) + 1
        if turn == 1:
            self.simulator.crash()
        elif turn == 2:
            self.simulator.start()  # comes up while the patient client is retrying
        backend = self.impatient if turn == 1 else self.patient
        start = time.monotonic()
        results = await backend.search_many(requests)
        self.calls.append(Call(requests, results, time.monotonic() - start))
        return results


def _config(url: str, out: Path, data_dir: Path) -> TrainConfig:
    return parse_train_config(
        {
            "model": "smollm2-135m",
            "simulator_url": url,
            "datasets": ["nq"],
            "data_dir": str(data_dir),
            "train_limit": 4,
            "num_generations": 2,  # smallest group with a baseline
            "prompts_per_step": 1,  # 2 rollouts a step, searched in one turn
            "steps": STEPS,
            "learning_rate": 1e-5,
            "beta": 0.0,  # no reference model
            "temperature": 0.5,  # the cold-started format stays likely under sampling
            "max_turns": 1,  # one search turn a step, then the answer turn
            "top_k": 1,
            "max_new_tokens": 40,  # room for "<think>…</think> <search> question </search>"
            "max_completion_length": 160,
            "checkpoint_interval": STEPS,  # one checkpoint, at the end
            # As test_worker_e2e: 2 demonstrations, 3 passes at a high rate teach the 135M model to search.
            # Documents from bm25, so the simulator sees only the GRPO searches.
            "cold_start": {
                "enabled": True,
                "examples": 2,
                "epochs": 3,
                "batch_size": 2,
                "learning_rate": 3e-4,
                "top_k": 1,
                "max_length": 288,
                "search": "bm25",
            },
            "eval": {"enabled": False},
            "output_dir": str(out),
        }
    )


@pytest.fixture(scope="module")
def restarted_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):  # type: ignore[no-untyped-def]
    """Train through the scripted outage; yield what was observed (every child stopped afterwards)."""
    work = tmp_path_factory.mktemp("restart")
    env = {"HF_HUB_OFFLINE": "1", "ZEROSEARCH_DATA_DIR": str(data_dir)}
    with Supervisor(log_dir=work / "logs") as sup:
        simulator = SimulatorProcess(sup, free_port(), env)
        sup.wait_http(simulator.start(), f"{simulator.url}/readyz", timeout_s=300)
        config = _config(simulator.url, work / "run", data_dir)
        script = OutageScript(
            simulator,
            impatient=make_backend("simulator", url=simulator.url, **IMPATIENT),
            patient=connect_simulator(config),
        )
        summary = train(config, backend=script)
        assert simulator.child is not None and simulator.child.alive, simulator.child.tail(40)
        served = simulator.served()
    yield SimpleNamespace(
        config=config,
        summary=summary,
        calls=script.calls,
        served=served,
        children=[child.process for child in simulator.started],
        metrics=[json.loads(line) for line in (work / "run" / "metrics.jsonl").read_text().splitlines()],
        out=work / "run",
    )
    shutil.rmtree(work, ignore_errors=True)  # GBs of checkpoints; CI disks are small


def test_run_finishes_every_step_through_the_restart(restarted_run) -> None:  # type: ignore[no-untyped-def]
    run = restarted_run
    assert [m["step"] for m in run.metrics] == list(range(1, STEPS + 1))
    assert run.summary["steps"] == STEPS
    assert (run.out / "final" / "config.json").is_file()
    state = json.loads((run.out / f"checkpoint-{STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS
    assert len(run.children) == 2  # the original and the restarted simulator
    assert all(process.poll() is not None for process in run.children), "a simulator outlived the test"


def test_each_search_turn_landed_in_its_step(restarted_run) -> None:  # type: ignore[no-untyped-def]
    """Turn i happened at step i: the requests carry the curriculum's noise of step i."""
    schedule = restarted_run.config.curriculum_schedule()
    calls = restarted_run.calls
    assert len(calls) == STEPS, (
        f"the policy searched in {len(calls)} of {STEPS} steps: "
        f"{[m['searches_per_rollout'] for m in restarted_run.metrics]} searches a rollout"
    )
    for step, call in enumerate(calls, start=1):
        assert all(r.noise == pytest.approx(schedule(step)) for r in call.requests), step


def test_outage_longer_than_the_retries_falls_back_and_is_counted(restarted_run) -> None:  # type: ignore[no-untyped-def]
    first = restarted_run.calls[0]
    assert first.results and all(r.failed for r in first.results)
    assert all(r.formatted == NO_INFORMATION for r in first.results)  # what the policy was shown
    assert all(r.attempts == IMPATIENT["retries"] for r in first.results)
    assert all("ConnectError" in (r.error or "") for r in first.results)
    # Bounded: the client's back-off, not the time the simulator was down.
    budget = IMPATIENT["backoff_s"] * (2 ** (IMPATIENT["retries"] - 1) - 1)
    assert budget <= first.seconds < budget + 5
    step1 = restarted_run.metrics[0]
    rollouts = restarted_run.config.rollouts_per_step
    assert step1["failed_searches"] == len(first.results) > 0
    assert step1["searches_per_rollout"] * rollouts == len(first.results)


def test_retries_bridge_the_restart_and_later_searches_succeed(restarted_run) -> None:  # type: ignore[no-untyped-def]
    bridged, later = restarted_run.calls[1], restarted_run.calls[2]
    assert not any(r.failed for r in bridged.results + later.results)
    # Answered by the simulator (its modes; a fallback is "real"), even where it wrote no usable document.
    assert all(r.mode in ("useful", "noisy") for r in bridged.results + later.results)
    assert max(r.attempts for r in bridged.results) > 1  # refused while the simulator was loading
    assert all(r.attempts == 1 for r in later.results)
    for line in restarted_run.metrics[1:]:
        assert line["failed_searches"] == 0 and line["searches_per_rollout"] > 0
    # Every answered search came from the restarted process (the first one served none).
    assert restarted_run.served >= len(bridged.results) + len(later.results)
