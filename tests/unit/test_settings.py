from pathlib import Path

import pytest

from selfheal.errors import ConfigurationError
from selfheal.settings import load_settings


def test_precedence_explicit_over_env_over_pyproject_over_default(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.selfheal]\nmin-occurrences = 5\nmax_attempts = 7\nmodel = "bedrock:x"\n'
    )
    env = {"SELFHEAL_REPO": str(tmp_path), "SELFHEAL_MAX_ATTEMPTS": "4"}
    s = load_settings({"model": "rules", "max_cost_per_day_usd": None}, env)
    assert s.model == "rules"  # explicit beats pyproject
    assert s.max_attempts == 4  # env beats pyproject
    assert s.min_occurrences == 5  # pyproject beats default
    assert s.max_cost_per_day_usd == 20.0  # default; None explicit values are ignored


def test_list_settings_from_env() -> None:
    s = load_settings({}, {"SELFHEAL_TEST_COMMAND": "pytest -q tests", "SELFHEAL_IGNORE_TYPES": "A,B"})
    assert s.test_command == ["pytest", "-q", "tests"]
    assert s.ignore_types == ["A", "B"]


def test_unknown_pyproject_key_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.selfheal]\nno_such_setting = 1\n")
    with pytest.raises(ConfigurationError, match="no_such_setting"):
        load_settings({"repo": tmp_path}, {})


def test_unverified_defaults_to_abstain_and_is_a_closed_set() -> None:
    from selfheal.errors import ConfigurationError
    from selfheal.settings import load_settings

    assert load_settings(env={}).unverified == "abstain"
    assert load_settings(env={"SELFHEAL_UNVERIFIED": "draft"}).unverified == "draft"
    with pytest.raises(ConfigurationError):
        load_settings(env={"SELFHEAL_UNVERIFIED": "publish"})
    assert load_settings(env={"SELFHEAL_CAPTURE_INPUTS": "false"}).capture_inputs is False
