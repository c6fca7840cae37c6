"""Rank-aware training: unit checks of the rank helpers, and one real 2-process run (gloo) on CPU.

The slow test submits a run with ``processes: 2`` on a real Redis; a `trainer worker` process picks it
up and its job launches two ranks with torchrun. Both ranks cold-start (data-parallel SFT), roll out
their share against a live simulator, and take two GRPO steps whose gradients DDP averages. Checked: one
run folder, one checkpoint, one eval job, the job's progress, both ranks generated and searched, and the
ranks' weights are identical after the steps and equal to the saved final model (and differ from the
cold-start model, so an update really happened).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
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


# ---- a real 2-process run (slow) ----------------------------------------------------------------


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
        "steps": 2,
        "learning_rate": 1e-5,
        "beta": 0.0,  # no reference model: one forward pass fewer per step
        "max_turns": 1,  # one search, then the answer turn
        "top_k": 1,  # one short document a search
        "max_new_tokens": 40,  # room for "<think>…</think> <search> question </search>"
        "max_completion_length": 160,
        "checkpoint_interval": 2,  # one checkpoint, at the last step: evaluated once, as "final"
        # As test_worker_e2e: 2 demonstrations (the training questions themselves), 3 passes at a high
        # rate: the 135M model copies the search format (and at times the answer, so a step updates).
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


@pytest.fixture(scope="module")
def two_rank_run(simulator, tmp_path_factory: pytest.TempPathFactory, redis_url: str, data_dir: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    """Submit a `processes: 2` run; a burst worker runs it; yield what was observed."""
    from zerosearch.common.connection import connect

    conn = connect(redis_url)
    conn.flushdb()
    parent = tmp_path_factory.mktemp("ranks")
    out = parent / "run"
    job = submit_train(conn, parse_train_config(_two_rank_config(simulator.url, out, data_dir)))
    worker = simulator.supervisor.start(
        "worker-ranks",
        zerosearch_command("trainer", "worker", "--burst", "--queues", "train"),
        env=simulator.env,
    )
    worker.process.wait(timeout=400)
    yield SimpleNamespace(out=out, parent=parent, conn=conn, job=job, log=worker.tail(60))
    conn.flushdb()
    conn.close()


@pytest.mark.slow
def test_two_ranks_train_one_run(two_rank_run) -> None:  # type: ignore[no-untyped-def]
    run, out = two_rank_run, two_rank_run.out
    assert run.job.get_status(refresh=True) == "finished", run.log
    assert "in use by another training process" not in run.log
    result = run.job.return_value()
    assert result["checkpoints"] == ["checkpoint-2"] and result["steps"] == 2
    assert [p.name for p in run.parent.iterdir()] == ["run"]  # one run folder
    assert json.loads((out / "train_config.json").read_text())["world_size"] == 2
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]  # one line a step (rank 0), not one per rank
    meta = run.job.get_meta(refresh=True)
    assert meta["state"] == "finished" and meta["ranks"] == 2 and meta["step"] == 2
    jobs = get_queue(run.conn, "eval").jobs
    assert [Path(job.args[0]["model"]).name for job in jobs] == ["final"]  # one eval job
    assert result["eval_jobs"] == [jobs[0].id]


@pytest.mark.slow
def test_both_ranks_searched_and_hold_averaged_weights(two_rank_run) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM

    out = two_rank_run.out
    record = json.loads((out / "ranks.json").read_text())
    assert record["world_size"] == 2
    for rank in record["ranks"]:
        assert rank["rollouts"] == 4, rank  # 2 steps × one group of 2 on each rank
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
