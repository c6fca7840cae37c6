"""End to end: a live simulator process, a real Redis, trainer workers as processes, a kill and a resume.

1. `zerosearch simulator serve` starts on a free port (bundled model, short generations).
2. A run is submitted on `train`; worker A picks it up, does the cold start (documents from the live
   simulator), GRPO step 1 and checkpoint-1, and is then killed with SIGKILL (no clean shutdown).
3. Nobody resubmits: RQ's registry cleanup re-enqueues the abandoned job (attempt 2, common.attempts);
   worker B (burst) runs it, resumes from checkpoint-1 and finishes steps 2-3.
Checked: the step count continues (metrics 1, 2, 3, no repeats), checkpoint-1 and the cold-start model
are not rewritten, an eval job is enqueued per checkpoint and for the final model (the last step's
checkpoint is the final model, evaluated once).
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from zerosearch.common.connection import free_port
from zerosearch.common.processes import Supervisor, zerosearch_command
from zerosearch.common.queue import get_queue
from zerosearch.common.trajectory import RolloutConfig
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.curriculum import Curriculum
from zerosearch.trainer.jobs import submit_train
from zerosearch.trainer.rollout import SearchRollout

from .test_rollout import _token_spans

pytestmark = pytest.mark.slow


def _config(url: str, out: Path, data_dir: Path) -> dict:
    return {
        "model": "smollm2-135m",
        "simulator_url": url,
        "datasets": ["nq"],
        "data_dir": str(data_dir),
        "train_limit": 8,  # a handful of questions
        "num_generations": 2,  # smallest group with a baseline
        "prompts_per_step": 1,  # 2 rollouts a step
        "steps": 3,
        "learning_rate": 1e-5,
        "beta": 0.0,  # no reference model: one forward pass fewer per step
        "max_turns": 1,  # one search, then the answer turn
        "top_k": 1,  # one document a search keeps sequences and simulator generations short
        "max_new_tokens": 40,  # room for "<think>…</think> <search> question </search>"
        "max_completion_length": 192,
        "checkpoint_interval": 1,  # a checkpoint every step, so the kill lands after one
        # 2 demonstrations, 3 passes at a high rate: enough for the 135M model to copy the search format;
        # their documents come from the live simulator.
        "cold_start": {
            "enabled": True,
            "examples": 2,
            "epochs": 3,
            "batch_size": 2,
            "learning_rate": 3e-4,
            "top_k": 1,
            "max_length": 288,  # prompt (~140) + format parts (~80) + a short document
            "search": "simulator",
        },
        "eval": {"datasets": ["nq"], "limit": 2, "max_turns": 1},
        "output_dir": str(out),
    }


def _wait_for(path: Path, child, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file():
            return
        assert child.alive, f"worker died early:\n{child.tail(40)}"
        time.sleep(0.2)
    pytest.fail(f"{path} not written within {timeout_s}s:\n{child.tail(40)}")


def _crash(pid: int) -> None:
    """SIGKILL the worker and its RQ work horse, as a machine crash would (no clean shutdown).

    RQ starts the horse in a session of its own, so killing the worker's process group would leave the
    horse training on (the run-dir lock then keeps a second worker out).
    """
    import psutil

    worker = psutil.Process(pid)
    for process in [*worker.children(recursive=True), worker]:
        process.send_signal(signal.SIGKILL)


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory, redis_url: str, data_dir: Path):  # type: ignore[no-untyped-def]
    """A live `zerosearch simulator serve` (bundled model, short generations) for the module."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"ZEROSEARCH_REDIS_URL": redis_url, "HF_HUB_OFFLINE": "1", "ZEROSEARCH_DATA_DIR": str(data_dir)}
    with Supervisor(log_dir=tmp_path_factory.mktemp("logs")) as sup:
        child = sup.start(
            "simulator",
            zerosearch_command(
                "simulator", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--engine", "transformers", "--model", "smollm2-135m",
                "--max-new-tokens", "48",  # short documents keep CPU generation quick
            ),
            env=env,
        )  # fmt: skip
        sup.wait_http(child, f"{url}/readyz", timeout_s=300)
        yield SimpleNamespace(url=url, env=env, supervisor=sup)


@pytest.fixture(scope="module")
def resumed_run(simulator, tmp_path_factory: pytest.TempPathFactory, redis_url: str, data_dir: Path):  # type: ignore[no-untyped-def]
    """Submit, kill worker A after checkpoint-1, resubmit, let worker B finish; yield what was observed."""
    from zerosearch.common.connection import connect

    conn = connect(redis_url)
    conn.flushdb()
    out = tmp_path_factory.mktemp("e2e") / "run"
    config = parse_train_config(_config(simulator.url, out, data_dir))
    sup = simulator.supervisor
    first = submit_train(conn, config)
    worker_a = sup.start(
        "worker-a", zerosearch_command("trainer", "worker", "--queues", "train"), env=simulator.env
    )
    _wait_for(out / "checkpoint-1" / "trainer_state.json", worker_a, timeout_s=500)
    _crash(worker_a.process.pid)
    worker_a.process.wait(timeout=10)
    kept = {"checkpoint-1": _mtimes(out / "checkpoint-1"), "cold_start": _mtimes(out / "cold_start")}
    first_status = first.get_status(refresh=True)

    # RQ's maintenance re-enqueues the job once its heartbeat expired; run it as of an hour later.
    get_queue(conn, "train").started_job_registry.cleanup(timestamp=time.time() + 3600)
    second = first
    worker_b = sup.start(
        "worker-b", zerosearch_command("trainer", "worker", "--burst", "--queues", "train"), env=simulator.env
    )
    worker_b.process.wait(timeout=500)
    yield SimpleNamespace(
        out=out,
        conn=conn,
        config=config,
        kept=kept,
        first_status=first_status,
        second=second,
        log=worker_b.tail(40),
    )
    conn.flushdb()
    conn.close()
    shutil.rmtree(out.parent, ignore_errors=True)  # GBs of checkpoints; CI disks are small


def test_killed_worker_resumes_and_step_count_continues(resumed_run) -> None:  # type: ignore[no-untyped-def]
    run, out = resumed_run, resumed_run.out
    assert run.first_status != "finished"
    assert run.second.get_status(refresh=True) == "finished", run.log
    result = run.second.return_value()
    assert result["resumed_from"] == "checkpoint-1"
    assert result["checkpoints"] == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]  # continued; no step recorded twice
    assert _mtimes(out / "checkpoint-1") == run.kept["checkpoint-1"]  # nothing clobbered
    assert _mtimes(out / "cold_start") == run.kept["cold_start"]
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert (out / "checkpoint-3" / "optimizer.pt").is_file()  # what makes a resume exact
    assert (out / "final" / "config.json").is_file()
    meta = run.second.get_meta(refresh=True)
    assert meta["state"] == "finished" and meta["total"] == 3
    assert meta["attempt"] == 2 and meta["last_failure"].startswith("abandoned")  # re-run by itself


def test_metrics_noise_and_eval_jobs(resumed_run) -> None:  # type: ignore[no-untyped-def]
    lines = [json.loads(line) for line in (resumed_run.out / "metrics.jsonl").read_text().splitlines()]
    schedule = Curriculum(total_steps=3)
    for line in lines:  # the resumed steps 2-3 continue the curriculum where step 1 left it
        assert line["noise_p"] == pytest.approx(schedule(line["step"]))
        for key in ("reward", "loss", "response_length", "searches_per_rollout", "failed_searches"):
            assert key in line, key
    jobs = get_queue(resumed_run.conn, "eval").jobs
    assert sorted(Path(job.args[0]["model"]).name for job in jobs) == [
        "checkpoint-1",
        "checkpoint-2",
        "final",
    ]  # fmt: skip  (checkpoint-3 is the final model: evaluated once, as final)
    assert all(job.func_name == "zerosearch.evaluator.jobs.run_eval_job" for job in jobs)
    assert all(job.args[0]["out"].startswith(str(resumed_run.out / "eval")) for job in jobs)
    plots = {p.name for p in (resumed_run.out / "plots").iterdir()}
    assert plots >= {"reward.png", "noise_p.png", "searches.png", "response_length.png"}


def test_real_rollout_against_the_live_simulator_masks_information(resumed_run, simulator) -> None:  # type: ignore[no-untyped-def]
    """The cold-started model searches the live simulator; every <information> token has env_mask 0."""
    from zerosearch.common.policies.transformers import TransformersPolicy
    from zerosearch.common.search.factory import make_backend
    from zerosearch.trainer.grpo import load_training_items

    policy = TransformersPolicy.from_pretrained(str(resumed_run.out / "cold_start"))
    items = load_training_items(resumed_run.config)[:2]
    settings = RolloutConfig(
        max_turns=1, max_new_tokens=40, max_completion_tokens=192, top_k=1, temperature=0.0
    )
    backend = make_backend("simulator", url=simulator.url)
    rollout = SearchRollout(items, backend, settings, Curriculum(total_steps=2), lambda trainer: policy)
    out = rollout([i.question for i in items], SimpleNamespace(state=SimpleNamespace(global_step=0)))
    tokenizer, checked = policy.tokenizer, 0
    for ids, mask in zip(out["completion_ids"], out["env_mask"], strict=True):
        text = tokenizer.decode(ids)
        if "<information>" not in text:
            continue
        start, end = text.index("<information>"), text.index("</information>") + len("</information>")
        spans = _token_spans(tokenizer, ids)
        for (a, b), bit in zip(spans, mask, strict=True):
            if a < end and b > start:
                assert bit == 0, f"inserted token {text[a:b]!r} is not masked"
        # The inserted block starts with its blank line ("\n\n<information>"); all before it is the model's.
        block = text.index("\n\n<information>")
        before = [bit for (_, b), bit in zip(spans, mask, strict=True) if b <= block]
        assert before and all(before), "every token the model wrote before <information> is trained"
        checked += 1
    assert checked >= 1, (
        f"the cold-started model did not search: {tokenizer.decode(out['completion_ids'][0])!r}"
    )
    assert rollout.last_stats is not None and rollout.last_stats.failed_searches == 0
