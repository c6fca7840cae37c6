"""Rank-aware training: unit checks of the rank helpers, and one real 2-process run (gloo) on CPU.

The slow test submits a run with ``processes: 2`` on a real Redis; worker A (a `trainer worker`
process) picks it up and its job launches two ranks with torchrun. Both ranks cold-start (data-parallel
SFT), roll out their share against a live simulator and take GRPO step 1, whose gradients DDP averages;
after checkpoint-1 worker A and its work horse are SIGKILLed. The launcher must then stop the ranks; RQ
re-enqueues the abandoned job (attempt 2) and worker B resumes it from checkpoint-1 with 2 ranks (step
2). Checked: no rank outlives its job, one run folder, no lock error, the steps continue (1, 2), one eval
job per checkpoint, the job's progress, both ranks generated and searched, and the ranks' weights are
identical after the steps and equal to the saved final model (and differ from the cold-start model, so
an update really happened).
"""

from __future__ import annotations

import contextlib
import json
import pickle
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import httpx
import psutil
import pytest

from zerosearch.common.errors import ConfigError, EngineError
from zerosearch.common.processes import zerosearch_command
from zerosearch.common.queue import get_queue
from zerosearch.trainer.config import parse_train_config
from zerosearch.trainer.distributed import RankTracker, batch_split, current_ranks, weights_checksum
from zerosearch.trainer.jobs import submit_train
from zerosearch.trainer.launch import launch_command, needs_launch
from zerosearch.trainer.memory import LoraSettings, estimate_training_gib, peft_config
from zerosearch.trainer.run_dir import RunDir
from zerosearch.trainer.vllm_server import VLLMServerPolicy

from .test_worker_e2e import simulator  # noqa: F401  (the module's live simulator fixture)


def _base(out: Path, **extra: object) -> dict:
    return {
        "model": "smollm2-135m",
        "simulator_url": "http://127.0.0.1:1",
        "datasets": ["nq"],
        "output_dir": str(out),
        **extra,
    }


# ---- unit checks (fast) -------------------------------------------------------------------------


def test_batch_split_gives_each_rank_an_equal_share() -> None:
    assert batch_split(8, None, 1) == (8, 1)
    assert batch_split(8, None, 2) == (4, 1)
    assert batch_split(320, 20, 8) == (20, 2)  # the paper's step on 8 GPUs: 40 rollouts a rank
    with pytest.raises(ConfigError, match="multiple of the number of ranks"):
        batch_split(6, None, 4)
    with pytest.raises(ConfigError, match="micro_batch_size") as err:
        batch_split(8, 3, 2)
    assert err.value.param == "micro_batch_size"


def test_current_ranks_reads_the_launcher_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert current_ranks().world_size == 1 and current_ranks().is_main
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ranks = current_ranks()
    assert (ranks.rank, ranks.world_size, ranks.local_rank, ranks.is_main) == (3, 4, 1, False)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ConfigError, match=r"RANK must be in \[0, 3\]"):
        current_ranks()
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE must be an integer"):
        current_ranks()


def test_a_checkpoint_resumes_only_with_the_same_world_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rank 0 of 2 records world_size in the snapshot; one process may not reopen that run."""
    run_dir = RunDir(tmp_path / "run")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")  # no process group: rank 0 decides alone, as it would with one
    assert run_dir.prepare({"model": "m"}, resume="auto") is None
    assert json.loads(run_dir.config_file.read_text())["world_size"] == 2
    (run_dir.root / "checkpoint-1").mkdir()
    (run_dir.root / "checkpoint-1" / "trainer_state.json").write_text("{}")
    assert run_dir.prepare({"model": "m", "processes": 2}, resume="auto") == run_dir.root / "checkpoint-1"
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(ConfigError, match="world_size changed"):
        run_dir.prepare({"model": "m"}, resume="auto")


def test_processes_launch_torchrun_or_accelerate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    config = parse_train_config(_base(tmp_path / "run", processes=2))
    assert needs_launch(config)
    command = launch_command(config, tmp_path / "c.json", tmp_path / "r.json")
    assert command[1:3] == ["-m", "torch.distributed.run"] and "--nproc_per_node" in command
    assert command[command.index("--nproc_per_node") + 1] == "2"
    entry = ["-m", "zerosearch.trainer.launch", "--config", str(tmp_path / "c.json")]
    assert command[-6:] == [*entry, "--result", str(tmp_path / "r.json")]
    shipped = Path(__file__).parents[2] / "configs" / "accelerate" / "deepspeed_zero2.yaml"
    accelerate = parse_train_config(_base(tmp_path / "run", processes=8, accelerate_config=str(shipped)))
    command = launch_command(accelerate, tmp_path / "c.json", tmp_path / "r.json")
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert command[command.index("--config_file") + 1] == str(shipped)
    missing = parse_train_config(_base(tmp_path / "run", processes=2, accelerate_config="nope.yaml"))
    with pytest.raises(ConfigError, match="accelerate_config"):
        launch_command(missing, tmp_path / "c.json", tmp_path / "r.json")
    monkeypatch.setenv("WORLD_SIZE", "2")  # already under a launcher: never launch again
    assert not needs_launch(config)
    assert not needs_launch(parse_train_config(_base(tmp_path / "run")))


def test_config_fields_for_scale_and_memory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vllm_server_url"):
        parse_train_config(_base(tmp_path / "run", use_vllm=True, vllm_mode="server"))
    with pytest.raises(ConfigError, match="processes"):
        parse_train_config(_base(tmp_path / "run", processes=0))
    lora = parse_train_config(_base(tmp_path / "run", lora={"enabled": True, "r": 8})).lora
    made = peft_config(lora)
    assert made.r == 8 and made.lora_alpha == 32 and made.task_type == "CAUSAL_LM"
    assert peft_config(LoraSettings()) is None
    # 7B full fine-tuning does not fit one 80 GB card (~104 GiB before activations); LoRA does (~14).
    assert estimate_training_gib(7.0) > 100
    assert estimate_training_gib(7.0, lora=True) < 16


def test_rank_tracker_report_and_checksum() -> None:
    import torch

    tracker = RankTracker(world_size=2)
    tracker.rollouts, tracker.searches = [4, 4], [3, 2]
    record = tracker.report(["a", "a"])
    assert [r["searches"] for r in record["ranks"]] == [3, 2] and record["world_size"] == 2
    one, two = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    two.load_state_dict(one.state_dict())
    assert weights_checksum(one) == weights_checksum(two)
    with torch.no_grad():
        two.bias[0] += 1e-6
    assert weights_checksum(one) != weights_checksum(two)


def test_vllm_server_policy_speaks_trl_vllm_serve_completions(bundled_model_path: str) -> None:
    """The request/response shapes of `trl vllm-serve`'s /v1/completions (the server itself: GPU only)."""
    from zerosearch.common.models import load_tokenizer

    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "policy"}]})
        body = json.loads(request.content)
        seen.append(body)
        choices = [
            {"index": 1, "token_ids": [7, 8], "text": "b</search>", "logprobs": {"token_logprobs": [-0.5, -0.25]}},
            {"index": 0, "token_ids": [5], "text": "a", "logprobs": {"token_logprobs": [-1.0]}},
        ]  # fmt: skip
        return httpx.Response(200, json={"choices": choices})

    tokenizer = load_tokenizer(bundled_model_path)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    policy = VLLMServerPolicy("http://vllm:8001/", tokenizer, client=client)
    out = policy.generate([[1, 2], [3]], max_new_tokens=4, stop=["</search>"], temperature=1.0, top_p=0.9)
    assert seen[0]["prompt"] == [[1, 2], [3]] and seen[0]["model"] == "policy"
    assert seen[0]["stop"] == ["</search>"] and seen[0]["include_stop_str_in_output"] is True
    assert seen[0]["return_token_ids"] is True and seen[0]["max_tokens"] == 4
    assert [g.ids for g in out] == [[5], [7, 8]]  # back in prompt order
    assert out[1].stop == "</search>" and out[0].stop is None
    assert out[1].logprobs == [-0.5, -0.25]
    broken = VLLMServerPolicy(
        "http://vllm:8001", tokenizer, client=httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    )  # fmt: skip
    with pytest.raises(EngineError, match="vllm:8001"):
        broken.generate([[1]], max_new_tokens=1, stop=[], temperature=1.0, top_p=1.0)


# ---- a real 2-process run, killed after checkpoint-1 and resumed (slow) -------------------------


def _two_rank_config(url: str, out: Path, data_dir: Path) -> dict:
    return {
        "model": "smollm2-135m",
        "simulator_url": url,
        "datasets": ["nq"],
        "data_dir": str(data_dir),
        "processes": 2,  # two ranks (gloo on CPU), launched by the job with torchrun
        "train_limit": 2,  # the 2 questions the cold start demonstrates, both in every step
        "num_generations": 2,  # smallest group with a baseline
        "prompts_per_step": 2,  # 4 rollouts a step: one group (2 rollouts) on each rank
        "steps": 2,  # step 1 before the kill, step 2 after the resume
        "learning_rate": 1e-5,
        # An entropy bonus gives every step a gradient even when both groups tie on reward (zero
        # advantages: the sampled answers are not reproducible, so a tie happens), so the weight checks
        # below never depend on luck.
        "entropy_coef": 0.01,
        # Sampling at 0.5 keeps the cold-started format (a search, then an answer) on nearly every rollout,
        # so each rank's two rollouts after the resume do search; 1.0 (the default) left a rank without one.
        "temperature": 0.5,
        "beta": 0.0,  # no reference model: one forward pass fewer per step
        "max_turns": 1,  # one search, then the answer turn
        "top_k": 1,  # one short document a search
        "max_new_tokens": 40,  # room for "<think>…</think> <search> question </search>"
        "max_completion_length": 160,
        # A checkpoint a step: the kill lands after checkpoint-1; checkpoint-2 is the final model
        # (evaluated once, as "final").
        "checkpoint_interval": 1,
        # As test_worker_e2e: 2 demonstrations (the training questions themselves), 3 passes at a high
        # rate: the 135M model copies the search format (and at times the answer).
        "cold_start": {
            "enabled": True,
            "examples": 2,
            "epochs": 3,
            "batch_size": 2,  # 1 a rank
            "learning_rate": 3e-4,
            "top_k": 1,
            "max_length": 288,
            "search": "bm25",
        },
        "eval": {"datasets": ["nq"], "limit": 2, "max_turns": 1},
        "output_dir": str(out),
    }


def _wait_until(ready: Callable[[], bool], child, what: str, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert child.alive, f"worker died before {what}:\n{child.tail(40)}"
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout_s:.0f}s:\n{child.tail(40)}")
        time.sleep(0.2)


def _checkpoint_1_done(out: Path, conn) -> bool:  # type: ignore[no-untyped-def]
    """Rank 0 enqueued checkpoint-1's eval (its last act of step 1) and rank 1's RNG state is complete.

    HF has no barrier in a checkpoint save: each rank writes its own RNG state, rank 0 the rest.
    """
    import torch

    if "checkpoint-1" not in [Path(job.args[0]["model"]).name for job in get_queue(conn, "eval").jobs]:
        return False
    try:
        torch.load(out / "checkpoint-1" / "rng_state_1.pth", weights_only=False)
    except (OSError, EOFError, RuntimeError, pickle.UnpicklingError):  # absent, or still being written
        return False
    return True


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def _ranks_left(redis_url: str) -> list[psutil.Process]:
    """Launchers and ranks of this test's jobs still running (they carry its Redis URL)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if "zerosearch.trainer.launch" not in " ".join(process.info["cmdline"] or []):
                continue
            if process.environ().get("ZEROSEARCH_REDIS_URL") == redis_url:
                found.append(process)
    return found


@pytest.fixture(scope="module")
def two_rank_run(simulator, tmp_path_factory: pytest.TempPathFactory, redis_url: str, data_dir: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    """Submit a `processes: 2` run; kill worker A after checkpoint-1; worker B resumes; yield what was seen.

    Only the worker and its work horse are SIGKILLed, as a crash of the worker would: the ranks' launcher
    must notice (its parent-death signal) and stop the ranks, which releases the run folder's lock.
    """
    from zerosearch.common.connection import connect

    conn = connect(redis_url)
    conn.flushdb()
    parent = tmp_path_factory.mktemp("ranks")
    out = parent / "run"
    job = submit_train(conn, parse_train_config(_two_rank_config(simulator.url, out, data_dir)))
    sup = simulator.supervisor
    worker_a = sup.start(
        "worker-ranks-a", zerosearch_command("trainer", "worker", "--queues", "train"), env=simulator.env
    )
    _wait_until(lambda: _checkpoint_1_done(out, conn), worker_a, "checkpoint-1", timeout_s=400)
    worker = psutil.Process(worker_a.process.pid)
    horses = worker.children()  # the RQ work horse, in a session of its own
    launched = [p for horse in horses for p in horse.children(recursive=True)]  # torchrun and the ranks
    for process in [*horses, worker]:
        process.send_signal(signal.SIGKILL)
    worker_a.process.wait(timeout=10)
    _gone, orphans = psutil.wait_procs(launched, timeout=60)  # torchrun's stop grace is 30 s
    for process in orphans:  # so that worker B still runs; the test reports them
        process.kill()
    first_status = job.get_status(refresh=True)
    kept = _mtimes(out / "checkpoint-1")
    step_1 = (out / "metrics.jsonl").read_text().splitlines()[:1]

    # RQ's maintenance re-enqueues the job once its heartbeat expired; run it as of an hour later.
    get_queue(conn, "train").started_job_registry.cleanup(timestamp=time.time() + 3600)
    worker_b = sup.start(
        "worker-ranks-b",
        zerosearch_command("trainer", "worker", "--burst", "--queues", "train"),
        env=simulator.env,
    )
    worker_b.process.wait(timeout=400)
    yield SimpleNamespace(
        out=out,
        parent=parent,
        conn=conn,
        job=job,
        first_status=first_status,
        launched=launched,
        orphans=orphans,
        left=_ranks_left(redis_url),
        kept=kept,
        step_1=step_1,
        log=worker_b.tail(60),
    )
    conn.flushdb()
    conn.close()
    shutil.rmtree(parent, ignore_errors=True)  # GBs of checkpoints; CI disks are small


@pytest.mark.slow
def test_two_ranks_train_one_run_killed_and_resumed(two_rank_run) -> None:  # type: ignore[no-untyped-def]
    run, out = two_rank_run, two_rank_run.out
    assert len(run.launched) >= 3, f"expected torchrun and 2 ranks under the work horse: {run.launched}"
    assert not run.orphans, f"ranks outlived their killed work horse: {run.orphans}"
    assert run.first_status != "finished"
    assert run.job.get_status(refresh=True) == "finished", run.log
    assert "in use by another training process" not in run.log
    meta = run.job.get_meta(refresh=True)
    assert meta["attempt"] == 2 and meta["last_failure"].startswith("abandoned")  # came back by itself
    assert meta["state"] == "finished" and meta["ranks"] == 2 and meta["step"] == 2
    result = run.job.return_value()
    assert result["resumed_from"] == "checkpoint-1" and result["steps"] == 2
    assert result["checkpoints"] == ["checkpoint-1", "checkpoint-2"]
    assert [p.name for p in run.parent.iterdir()] == ["run"]  # one run folder
    assert json.loads((out / "train_config.json").read_text())["world_size"] == 2
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]  # one line a step (rank 0), not per rank
    assert run.step_1 == lines[:1]  # the resume continued after step 1; it did not start over
    assert _mtimes(out / "checkpoint-1") == run.kept  # nothing clobbered
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in (out / "checkpoint-1").iterdir()}
    jobs = get_queue(run.conn, "eval").jobs
    names = {Path(job.args[0]["model"]).name: job.id for job in jobs}
    assert sorted(names) == ["checkpoint-1", "final"]  # one eval job per checkpoint (checkpoint-2 is final)
    assert result["eval_jobs"] == [names["final"]]  # what the second attempt enqueued
    assert not run.left, f"ranks left running after the resumed run: {run.left}"


@pytest.mark.slow
def test_both_ranks_searched_and_hold_averaged_weights(two_rank_run) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM

    out = two_rank_run.out
    record = json.loads((out / "ranks.json").read_text())
    assert record["world_size"] == 2
    for rank in record["ranks"]:
        assert rank["rollouts"] == 2, rank  # the resumed start's one step × one group of 2 on each rank
        assert rank["searches"] > 0 and rank["model_tokens"] > 0, rank
    checksums = {rank["weights_sha256"] for rank in record["ranks"]}
    assert len(checksums) == 1, f"ranks diverged: gradients were not averaged ({record})"
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(m.get("grad_norm", 0.0) > 0 for m in metrics), f"no step updated the policy: {metrics}"
    final = AutoModelForCausalLM.from_pretrained(out / "final")
    cold = AutoModelForCausalLM.from_pretrained(out / "cold_start")
    assert weights_checksum(final) in checksums  # what rank 0 saved is what rank 1 held
    assert weights_checksum(cold) not in checksums  # and the steps did change the weights


def test_stopping_the_job_stops_ranks_in_sessions_of_their_own() -> None:
    """torchrun starts each rank in its own session: stopping the launcher must not orphan them."""
    import subprocess
    import sys
    import time

    import psutil

    from zerosearch.trainer.launch import _stop

    script = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
        "time.sleep(120)\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 20
    while not psutil.Process(launcher.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    ranks = psutil.Process(launcher.pid).children()
    assert ranks, "the stand-in launcher started no rank"
    _stop(launcher)
    assert launcher.poll() is not None
    _gone, alive = psutil.wait_procs(ranks, timeout=10)
    assert not alive, f"orphaned ranks: {alive}"
