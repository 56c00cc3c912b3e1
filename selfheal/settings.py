"""Settings and their precedence.

Precedence, highest first: an explicit argument (CLI flag / function argument) > an environment
variable ``SELFHEAL_<NAME>`` > ``[tool.selfheal]`` in the target repository's ``pyproject.toml`` >
the embedded default below. Services never read the environment: composition roots call
``load_settings`` and pass values in.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from selfheal.domain.paths import DEFAULT_APP_ROOTS
from selfheal.errors import ConfigurationError

ENV_PREFIX = "SELFHEAL_"


class InvalidSettings(ConfigurationError):
    """A setting has a value of the wrong kind, or a name selfheal does not know."""


class Settings(BaseModel):
    """Every tunable of selfheal, with its embedded default."""

    home: Path = Path(".selfheal")
    repo: Path | None = None
    model: str = "rules"  # grammar: selfheal.compose.models.MODEL_SPECS
    bedrock_model_id: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    in_app_prefixes: list[str] = Field(default_factory=list)
    app_roots: list[str] = Field(default_factory=lambda: list(DEFAULT_APP_ROOTS))
    # policy
    min_occurrences: int = 1
    ignore_types: list[str] = Field(default_factory=list)
    ignore_paths: list[str] = Field(default_factory=list)
    ignore_messages: list[str] = Field(default_factory=list)
    max_fixes_per_hour: int = 20
    # fix generation
    max_attempts: int = 3
    prompt_token_budget: int = 6000
    max_cost_per_fix_usd: float = 2.0
    max_cost_per_day_usd: float = 20.0
    redact_patterns: list[str] = Field(default_factory=list)
    max_output_tokens: int = 4096
    max_output_tokens_cut_off: int = 0  # output cap after a cut-off reply (0: max_output_tokens)
    model_prices: list[str] = Field(default_factory=list)  # "model-substring=IN/OUT" USD per 1M tokens
    anthropic_base_url: str = "https://api.anthropic.com"
    model_timeout_seconds: float = 300.0
    # validation
    test_command: list[str] = Field(default_factory=lambda: ["python", "-m", "pytest", "-x", "-q"])
    test_timeout_seconds: float = 300.0
    deny_paths: list[str] = Field(default_factory=list)
    max_edit_bytes: int = 20_000
    # abstain: a fix no reproduction verifies is not published (the error is ABSTAINED with the
    # suggested patch kept); draft: it opens as a draft pull request labelled unverified
    unverified: Literal["abstain", "draft"] = "abstain"
    sandbox_memory_mb: int = 4096  # address-space limit of each test run
    sandbox_max_processes: int = 1024  # RLIMIT_NPROC of each test run (not enforced for root)
    # failing-input capture (selfheal.domain.capture): pair a traceback with its invocation's event
    capture_inputs: bool = True
    capture_labels: list[str] = Field(default_factory=list)  # regexes for "<label>: {...}"; empty: defaults
    # per input, after redaction; larger ones are shown, not replayed. With ``capture_keep`` it
    # bounds what an error's DynamoDB item carries (at most 5 x 32 KB, far below its 400 KB)
    capture_max_bytes: int = Field(default=16 * 1024, ge=256, le=32 * 1024)
    capture_keep: int = Field(default=3, ge=1, le=5)  # distinct inputs kept per error (the first seen)
    # source control
    base_branch: str | None = None
    branch_prefix: str = "selfheal/"
    pr_labels: list[str] = Field(default_factory=lambda: ["selfheal"])
    # where the source lives when it is not a local path in ``repo``: a file:// or SSH URL
    # (cloned into <home>/repos), ``github:owner/name`` or ``gitlab:group/name``
    repo_url: str | None = None
    push_remote: str | None = None  # local mode: remote name or URL to push fix branches to
    ssh_key_secret: str = "ssh_private_key"  # name in the secrets store
    ssh_known_hosts: list[str] = Field(default_factory=list)  # pinned known_hosts lines
    github_token_secret: str = "github_token"
    github_base_url: str | None = None  # GitHub Enterprise: https://host/api/v3
    gitlab_token_secret: str = "gitlab_token"
    gitlab_url: str = "https://gitlab.com"  # self-managed GitLab: https://host
    secrets_file: Path | None = None  # local secrets TOML (default <home>/secrets.toml)
    ssm_prefix: str = "/selfheal/"  # AWS: SSM parameter name prefix of the secrets
    # workflow
    retry_interval_scale: float = 1.0

    model_config = {"extra": "forbid"}

    @field_validator("home", "repo", "secrets_file", mode="after")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        """A leading ``~`` is the user's home wherever the path was set (``SELFHEAL_HOME='~/x'``
        in a unit or .env file reaches us unexpanded), never a folder named ``~``."""
        return value.expanduser() if value is not None else None


_LIST_FIELDS = {name for name, f in Settings.model_fields.items()
                if f.annotation is not None and "list" in str(f.annotation)}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name in _LIST_FIELDS:
            # Lists in the environment are comma separated (test_command: space separated).
            out[name] = raw.split() if name == "test_command" else [x for x in raw.split(",") if x]
        else:
            out[name] = raw
    return out


def read_pyproject(repo: Path | None) -> dict[str, Any]:
    """The ``[tool.selfheal]`` table of ``repo/pyproject.toml``, or an empty dict."""
    if repo is None:
        return {}
    path = repo / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSettings(f"{path} is not valid TOML ({exc}); fix it or pass another --repo") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    table = data.get("tool", {}).get("selfheal", {})
    return {k.replace("-", "_"): v for k, v in table.items()} if isinstance(table, dict) else {}


def load_settings(explicit: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Merge the four layers (see module docstring); ``None`` explicit values are ignored.
    A bad value raises ``ConfigurationError`` naming the setting, where it came from and how to
    write it (``describe_problems``)."""
    env = os.environ if env is None else env
    given = {k: v for k, v in (explicit or {}).items() if v is not None}
    from_env = _from_env(env)
    repo_value = given.get("repo", from_env.get("repo"))
    pyproject_path = Path(repo_value) / "pyproject.toml" if repo_value else None
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for layer, where in ((read_pyproject(Path(repo_value) if repo_value else None),
                          f"[tool.selfheal] of {pyproject_path}"),
                         (from_env, "env"), (given, "")):
        merged.update(layer)
        origin.update(dict.fromkeys(layer, where))
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise InvalidSettings(describe_problems(exc, origin)) from exc


_KINDS = {"int": "a whole number", "float": "a number", "list": "a list", "string": "text",
          "bool": "true or false", "path": "a path"}


def describe_problems(exc: ValidationError, origin: Mapping[str, str]) -> str:
    """One line per bad setting: which one, where it was set, what is wrong, how to write it."""
    lines = []
    for problem in exc.errors(include_url=False):
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        where = origin.get(name, "")
        if problem["type"] == "extra_forbidden":
            place = f" in {where}" if where else ""
            lines.append(f"unknown setting {name!r}{place}; remove it or use a name listed in "
                         "docs/configuration.md")
            continue
        kind = next((text for key, text in _KINDS.items() if problem["type"].startswith(key)), None)
        msg = problem["msg"]
        wrong = f"{problem['input']!r} is not {kind}" if kind else msg[:1].lower() + msg[1:]
        lines.append(f"setting {name} ({_source(name, where)}): {wrong}; {_example(name, where)}")
    return "; ".join(lines)


def _source(name: str, where: str) -> str:
    if where == "env":
        return f"from {ENV_PREFIX}{name.upper()}"
    return f"from {where}" if where else "given on the command line"


def _example(name: str, where: str) -> str:
    field = Settings.model_fields.get(name)
    default = field.get_default(call_default_factory=True) if field is not None else None
    if default is None:
        return "see docs/configuration.md"
    if where == "env":
        shown = " ".join(default) if name == "test_command" else (
            ",".join(default) if isinstance(default, list) else str(default))
        return f"for example {ENV_PREFIX}{name.upper()}={shown!s}"
    if where:
        value = "[" + ", ".join(f'"{v}"' for v in default) + "]" if isinstance(default, list) else (
            f'"{default}"' if isinstance(default, str | Path) else str(default).lower()
            if isinstance(default, bool) else str(default))
        return f"write it like {name} = {value}"
    return f"for example {default}"
