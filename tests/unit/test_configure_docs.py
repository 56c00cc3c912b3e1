"""The configuration reference and the deployment guide name everything they document."""

from __future__ import annotations

import re
from pathlib import Path

from selfheal.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
TEMPLATE = DOCS.parent / "template.yaml"


def test_every_setting_is_in_the_configuration_reference() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(Settings.model_fields)


def test_every_template_parameter_is_in_the_deployment_guide() -> None:
    template = TEMPLATE.read_text(encoding="utf-8")
    block = template[template.index("\nParameters:"):template.index("\nConditions:")]
    parameters = set(re.findall(r"^  ([A-Za-z]+):$", block, flags=re.MULTILINE))
    guide = (DOCS / "deployment.md").read_text(encoding="utf-8")
    assert len(parameters) >= 10
    assert {p for p in parameters if f"| `{p}` |" not in guide} == set()
