"""template.yaml, the handlers and the docs against the one definition of each boundary name
(``selfheal.names``): environment variables, the metric namespace and service, execution names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from selfheal import names
from selfheal.settings import ENV_PREFIX, Settings
from tests.support.deploy_sam import REPO, load_template, translate

ENV_NAMES = {v for k, v in vars(names).items() if k.startswith("ENV_")}
SETTINGS_ENV = {ENV_PREFIX + f.upper() for f in Settings.model_fields}
# read by the Lambda runtime or a library, not by selfheal
FOREIGN = {"POWERTOOLS_LOG_LEVEL", "GIT_PYTHON_REFRESH"}


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(load_template())


def functions(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}


def test_every_variable_the_template_sets_is_defined_once_and_read(cfn: dict[str, Any]) -> None:
    for logical, props in functions(cfn).items():
        variables = props["Environment"]["Variables"]
        unknown = set(variables) - ENV_NAMES - SETTINGS_ENV - FOREIGN
        assert not unknown, (logical, unknown)
        # one name per concept: no resource is handed to a function under two names
        refs = [repr(v) for v in variables.values() if isinstance(v, dict)]
        assert len(refs) == len(set(refs)), (logical, variables)


def test_the_names_the_builders_need_are_the_ones_the_template_sets(cfn: dict[str, Any]) -> None:
    fns = functions(cfn)
    assert names.ENV_QUEUE_URL in fns["DispatchFunction"]["Environment"]["Variables"]
    assert names.ENV_STATE_MACHINE_ARN in fns["StartFixFunction"]["Environment"]["Variables"]
    for props in fns.values():
        variables = props["Environment"]["Variables"]
        assert variables[names.ENV_TABLE_NAME] == {"Ref": "ErrorsTable"}
        assert variables[names.ENV_ARTIFACT_BUCKET] == {"Ref": "ArtifactsBucket"}
        assert variables[names.ENV_PARAMETER_PREFIX] == {"Ref": "ParameterPrefix"}


def test_telemetry_namespace_and_service_are_the_ones_alarms_read(cfn: dict[str, Any]) -> None:
    for props in functions(cfn).values():
        variables = props["Environment"]["Variables"]
        assert variables[names.ENV_METRICS_NAMESPACE] == names.METRIC_NAMESPACE
        assert variables[names.ENV_SERVICE_NAME] == names.METRIC_SERVICE
    alarm = cfn["Resources"]["FixCostSpikeAlarm"]["Properties"]
    assert alarm["Namespace"] == names.METRIC_NAMESPACE
    assert alarm["Dimensions"] == [{"Name": "service", "Value": names.METRIC_SERVICE}]


def test_no_handler_picks_its_own_namespace_or_table_variable() -> None:
    """Handlers take telemetry from ``compose.aws.metrics()`` (the template's environment) and
    their dependencies from ``compose.aws``: no ``Metrics(namespace=...)``, no ``os.environ``."""
    for path in sorted((REPO / "functions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "Metrics(" not in text, path.name
        assert "os.environ" not in text and "getenv" not in text, path.name


def test_metrics_come_out_in_the_templates_namespace(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from selfheal.compose import aws

    monkeypatch.delenv(names.ENV_METRICS_NAMESPACE, raising=False)
    metrics = aws.metrics()
    metrics.add_metric(name="Probe", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    out = capsys.readouterr().out
    assert f'"Namespace":"{names.METRIC_NAMESPACE}"' in out and f'"service":"{names.METRIC_SERVICE}"' in out


def test_docs_name_executions_and_variables_as_defined() -> None:
    docs = "\n".join(p.read_text(encoding="utf-8") for p in [*sorted((REPO / "docs").glob("*.md")),
                                                              REPO / "README.md"])
    assert names.execution_name("3f9a1c2b7d4e5f60", 2) == "3f9a1c2b7d4e-2"
    assert "<fingerprint[:12]>-<attempt>" in docs or "<fingerprint prefix>-<attempt>" in docs
    for stale in ("SELFHEAL_SSM_PREFIX", "STATE_MACHINE_ARN", "TABLE_NAME", "QUEUE_URL"):
        for match in re.finditer(rf"(?<![A-Z_]){stale}", docs):
            raise AssertionError(f"docs use {stale!r} (not a name in selfheal/names.py): "
                                 f"{docs[max(0, match.start() - 60):match.end() + 20]!r}")
    section = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = section.split("<!-- environment:begin -->", 1)[1].split("<!-- environment:end -->", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", section, re.M))
    assert documented == ENV_NAMES
    assert f"`{names.METRIC_NAMESPACE}`" in section and f"`{names.METRIC_SERVICE}`" in section


def test_names_module_is_the_only_definition() -> None:
    """No other module spells an environment name or the namespace as a literal."""
    literals = {*ENV_NAMES, names.METRIC_NAMESPACE}
    for path in sorted([*(REPO / "selfheal").rglob("*.py"), *(REPO / "functions").glob("*.py")]):
        if path.name == "names.py":
            continue
        text = path.read_text(encoding="utf-8")
        found = [n for n in literals if f'"{n}"' in text]
        assert not found, (path.relative_to(REPO), found)
    assert Path(names.__file__).name == "names.py"
