"""docs/security.md's "Who can read what" table is checked against the translated template: each
function's role, evaluated (inline and managed policies, Deny wins) on the stack's resources."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.deploy_sam import REPO, load_template, translate
from tests.support.iam_eval import ACCOUNT, REGION, Roles

DOC = REPO / "docs" / "security.md"
BEGIN, END = "<!-- who-can-read-what:begin -->", "<!-- who-can-read-what:end -->"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/errors"
PHYSICAL = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
            "AWS::StackName": "selfheal", "AWS::URLSuffix": "amazonaws.com", "ErrorsTable": "errors",
            "ErrorsTable.Arn": TABLE_ARN, "ErrorsTable.StreamArn": f"{TABLE_ARN}/stream/1",
            "ArtifactsBucket": "artifacts", "ArtifactsBucket.Arn": "arn:aws:s3:::artifacts",
            "FixQueue": "q", "FixQueue.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:fix",
            "FixDeadLetterQueue": "d", "FixDeadLetterQueue.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq",
            "FixStateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:fix",
            "SelfhealKey.Arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k", "ParameterPrefix": "/selfheal",
            "ModelId": "m"}
COLUMNS = ("Function", "Error table", "Artifacts", "Repository token", "Settings in SSM", "Bedrock",
           "Fix queue", "Start executions")


def _physical(cfn: dict[str, Any]) -> dict[str, str]:
    names = dict(PHYSICAL)
    for logical, res in cfn["Resources"].items():
        if res["Type"] == "AWS::Lambda::Function":
            names[logical] = f"selfheal-{logical}"
            names[f"{logical}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:selfheal-{logical}"
    return names


STATUS_CHANGE = (("dynamodb:Attributes", ("fingerprint", "status")),)


def _actions(roles: Roles, fn: str, service: str, candidates: list[tuple[str, str]]) -> str:
    allowed = []
    for a, resource in candidates:
        if not roles.allows(fn, f"{service}:{a}", resource):
            continue
        limited = a == "UpdateItem" and not roles.allows(fn, f"{service}:{a}", resource, STATUS_CHANGE)
        allowed.append(f"{a} (attempts only)" if limited else a)
    return ", ".join(allowed) or "-"


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"


def expected_rows(cfn: dict[str, Any]) -> list[list[str]]:
    roles = Roles.from_template(cfn, _physical(cfn))
    index = f"{TABLE_ARN}/index/status-first_seen"
    table = [(a, TABLE_ARN) for a in ("GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem",
                                      "Scan")] + [("Query", index)]
    objects = [(a, "arn:aws:s3:::artifacts/artifacts/x") for a in ("GetObject", "PutObject", "DeleteObject")]
    ssm = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/selfheal/"
    rows = []
    for fn in sorted(f for f in roles.statements if f.endswith("Function")):
        rows.append([fn.removesuffix("Function"), _actions(roles, fn, "dynamodb", table),
                     _actions(roles, fn, "s3", objects),
                     _yes(any(roles.allows(fn, "ssm:GetParameter", ssm + s)
                              for s in ("github_token", "ssh_private_key"))),
                     _yes(roles.allows(fn, "ssm:GetParameter", ssm + "model_id")),
                     _yes(roles.allows(fn, "bedrock:InvokeModel",
                                       f"arn:aws:bedrock:{REGION}::foundation-model/m")),
                     _yes(roles.allows(fn, "sqs:SendMessage", PHYSICAL["FixQueue.Arn"])),
                     _yes(roles.allows(fn, "states:StartExecution", PHYSICAL["FixStateMachine"]))])
    return rows


def render(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def documented_rows(text: str) -> list[list[str]]:
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    lines = [ln.strip() for ln in section.splitlines() if ln.strip().startswith("|")]
    return [[c.strip().strip("`") for c in ln.strip("|").split("|")] for ln in lines[2:]]


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(load_template())


def test_the_documented_table_is_the_templates(cfn: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text
    assert documented_rows(text) == expected_rows(cfn), "docs/security.md should read:\n" + render(
        expected_rows(cfn))


def test_the_check_notices_a_wrong_row(cfn: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    lied = re.sub(r"(\| ValidatePatch \|[^|]*\|[^|]*\| )-( \|)", r"\1yes\2", text, count=1)
    assert lied != text
    assert documented_rows(lied) != expected_rows(cfn)


def test_validate_patch_holds_nothing_worth_stealing(cfn: dict[str, Any]) -> None:
    row = next(r for r in expected_rows(cfn) if r[0] == "ValidatePatch")
    assert row[3:] == ["-"] * 5  # no token, no settings, no model, no queue, no executions
    assert "Scan" not in row[1] and "Query" not in row[1] and "DeleteObject" not in row[2]


if __name__ == "__main__":  # the table for docs/security.md: python -m tests.integration.test_security_table
    print(render(expected_rows(translate(load_template()))))
