"""Helpers for the offline template checks: load template.yaml, make it translatable without
``sam build`` (code URIs as ``s3://`` placeholders, the ASL file inlined), translate it with
aws-sam-translator and lint with cfn-lint's Python API."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
ASL = REPO / "statemachine" / "fix_error.asl.json"
PLACEHOLDER_BUCKET = "selfheal-placeholder-artifacts"
CODE_KEY = "code.zip"
LAYER_KEY = "layer.zip"
REGION = "us-east-1"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template as plain JSON data (CloudFormation short-form tags expanded)."""
    from cfnlint.decode import cfn_yaml

    return json.loads(json.dumps(cfn_yaml.loads(path.read_text(encoding="utf-8"))))


def load_text_template(text: str) -> dict[str, Any]:
    from cfnlint.decode import cfn_yaml

    return json.loads(json.dumps(cfn_yaml.loads(text)))


def translatable(template: dict[str, Any]) -> dict[str, Any]:
    """A copy that aws-sam-translator accepts offline: code from s3://, Definition inlined."""
    out = copy.deepcopy(template)
    code_uri = f"s3://{PLACEHOLDER_BUCKET}/{CODE_KEY}"
    out.get("Globals", {}).get("Function", {})["CodeUri"] = code_uri
    for resource in out["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = code_uri
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://{PLACEHOLDER_BUCKET}/{LAYER_KEY}"
        elif resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["Definition"] = json.loads((REPO / props.pop("DefinitionUri")).read_text(encoding="utf-8"))
    return out


def translate(template: dict[str, Any], parameter_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """SAM -> CloudFormation, as ``sam validate`` / ``sam deploy`` do, without network."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    translated: dict[str, Any] = Translator(managed_policy_map=None, sam_parser=Parser()).translate(
        translatable(template), parameter_values=parameter_values or {})
    return translated


def lint(text: str) -> list[str]:
    """cfn-lint findings (errors and warnings) as readable strings."""
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    return [str(m) for m in cfn_lint(text, config=ManualArgs(regions=[REGION]))]


def placeholder_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("functions/__init__.py", "")
    return buf.getvalue()


def asl_placeholders(asl_text: str) -> set[str]:
    """The ``${Name}`` substitutions an ASL file expects."""
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", asl_text))


def filter_terms(pattern: str) -> list[str]:
    """The OR-ed terms of an unstructured CloudWatch Logs filter pattern (``?"a b" ?c``)."""
    terms = re.findall(r'\?(?:"((?:[^"\\]|\\.)*)"|(\S+))', pattern)
    if not terms or re.sub(r'\?(?:"(?:[^"\\]|\\.)*"|\S+)', "", pattern).strip():
        raise ValueError(f"not an OR of terms: {pattern!r}")
    return [quoted or bare for quoted, bare in terms]


def filter_matches(pattern: str, event: str) -> bool:
    """CloudWatch Logs semantics for an OR of terms: any term occurs (case-sensitive)."""
    return pattern == "" or any(term in event for term in filter_terms(pattern))
