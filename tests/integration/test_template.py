"""Offline checks of the SAM application: translation (``sam validate``-equivalent), cfn-lint on the
SAM and the translated template, the state machine's substitutions against the ASL file and the
handlers, least privilege, and the translated stack created in moto."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from selfheal.names import ENV_STATE_MACHINE_ARN, QUEUE_URL_SUBSTITUTION
from selfheal.services.workflow.catalogue import STATES
from tests.support.deploy_sam import (
    ASL,
    CODE_KEY,
    LAYER_KEY,
    PLACEHOLDER_BUCKET,
    REGION,
    TEMPLATE,
    asl_placeholders,
    filter_matches,
    filter_terms,
    lint,
    load_template,
    load_text_template,
    placeholder_zip,
    translate,
)

STEP_HANDLERS = {s.function_logical_id: s.handler_module for s in STATES}
PIPELINE_HANDLERS = {
    "IngestFunction": "functions.ingest",
    "DispatchFunction": "functions.dispatch",
    "StartFixFunction": "functions.start_fix",
    "SyncPullRequestsFunction": "functions.sync_prs",
    "SweepFunction": "functions.sweep",
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    return translate(sam, {"LogGroupName": "/aws/lambda/orders"})


def resources_of(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def role_statements(cfn: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = cfn["Resources"][f"{function}Role"]["Properties"]
    return [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for s in statements:
        acts = s["Action"]
        out.update([acts] if isinstance(acts, str) else acts)
    return out


# ------------------------------------------------------------------------------ lint + translate


def test_sam_template_lints_clean() -> None:
    assert lint(TEMPLATE.read_text(encoding="utf-8")) == []


def test_translated_template_lints_clean(cfn: dict[str, Any]) -> None:
    assert lint(json.dumps(cfn)) == []


def test_translated_lint_catches_what_sam_lint_misses(sam: dict[str, Any]) -> None:
    # The guard that the lint above is not vacuous: a bad runtime only shows after translation.
    broken = TEMPLATE.read_text(encoding="utf-8").replace("Runtime: python3.12", "Runtime: python2.1", 1)
    findings = lint(json.dumps(translate(load_text_template(broken))))
    assert any("python2.1" in f for f in findings), findings


def test_translation_produces_the_expected_resources(cfn: dict[str, Any]) -> None:
    functions = resources_of(cfn, "AWS::Lambda::Function")
    # ValidatePatchPackage=Image deploys ValidatePatchImageFunction instead of ValidatePatchFunction
    assert set(functions) == set(STEP_HANDLERS) | set(PIPELINE_HANDLERS) | {"ValidatePatchImageFunction"}
    assert len(resources_of(cfn, "AWS::StepFunctions::StateMachine")) == 1
    assert len(resources_of(cfn, "AWS::DynamoDB::Table")) == 1
    assert len(resources_of(cfn, "AWS::SQS::Queue")) == 2
    assert len(resources_of(cfn, "AWS::Lambda::EventSourceMapping")) == 2
    assert len(resources_of(cfn, "AWS::Logs::SubscriptionFilter")) == 1


# ------------------------------------------------------------------------------ workflow wiring


def test_substitutions_cover_the_asl_and_point_at_the_step_functions(sam: dict[str, Any]) -> None:
    props = sam["Resources"]["FixStateMachine"]["Properties"]
    assert props["DefinitionUri"] == "statemachine/fix_error.asl.json"
    subs = dict(props["DefinitionSubstitutions"])
    assert set(subs) == asl_placeholders(ASL.read_text(encoding="utf-8"))
    assert subs.pop(QUEUE_URL_SUBSTITUTION) == {"Ref": "FixQueue"}  # the Requeue task's queue
    image, zipped = subs.pop("ValidatePatchFunctionArn")["Fn::If"][1:]  # ValidatePatchPackage
    assert (image, zipped) == ({"Fn::GetAtt": ["ValidatePatchImageFunction", "Arn"]},
                               {"Fn::GetAtt": ["ValidatePatchFunction", "Arn"]})
    for name, value in subs.items():
        logical, attr = value["Fn::GetAtt"]
        assert attr == "Arn" and name == f"{logical}Arn"
        assert logical in STEP_HANDLERS


def test_every_task_state_uses_a_substituted_function() -> None:
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    tasks = {n: s for n, s in definition["States"].items()
             if s["Type"] == "Task" and not s["Resource"].startswith("arn:aws:states:::")}
    assert tasks
    for name, state in tasks.items():
        assert state["Resource"] == f"${{{name}FunctionArn}}", name


@pytest.mark.parametrize("function", sorted({**STEP_HANDLERS, **PIPELINE_HANDLERS}))
def test_handler_setting_names_a_real_handler(sam: dict[str, Any], function: str) -> None:
    handler = sam["Resources"][function]["Properties"]["Handler"]
    module_name, attr = handler.rsplit(".", 1)
    assert module_name == {**STEP_HANDLERS, **PIPELINE_HANDLERS}[function]
    assert (Path(TEMPLATE.parent) / (module_name.replace(".", "/") + ".py")).is_file()
    assert callable(getattr(importlib.import_module(module_name), attr))


def test_functions_get_the_environment_their_code_reads(sam: dict[str, Any]) -> None:
    import re

    global_env = sam["Globals"]["Function"]["Environment"]["Variables"]
    compose = (TEMPLATE.parent / "selfheal" / "compose" / "workflow.py").read_text(encoding="utf-8")
    for logical, module in {**STEP_HANDLERS, **PIPELINE_HANDLERS}.items():
        code = (TEMPLATE.parent / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        if logical in STEP_HANDLERS:
            code += compose  # the step handlers build their services there
        wanted = set(re.findall(r'os\.environ\["([A-Z_]+)"\]', code))
        wanted |= set(re.findall(r'env\.get\("(SELFHEAL_[A-Z_]+)"\)', code)) - {"SELFHEAL_HOME"}
        own = sam["Resources"][logical]["Properties"].get("Environment", {}).get("Variables", {})
        missing = wanted - set(global_env) - set(own)
        assert not missing, (logical, missing)


def test_state_machine_type_logging_and_tracing(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    param = sam["Parameters"]["WorkflowType"]
    assert param["Default"] == "EXPRESS" and set(param["AllowedValues"]) == {"EXPRESS", "STANDARD"}
    sm = cfn["Resources"]["FixStateMachine"]["Properties"]
    assert sm["StateMachineType"] == {"Ref": "WorkflowType"}
    logging = sm["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True
    group = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    assert group == {"Fn::GetAtt": ["FixStateMachineLogGroup", "Arn"]}
    assert sm["TracingConfiguration"] == {"Enabled": True}
    assert set(sm["DefinitionSubstitutions"]) == asl_placeholders(ASL.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ resources


def test_functions_runtime_architecture_tracing_and_encryption(cfn: dict[str, Any]) -> None:
    for name, fn in resources_of(cfn, "AWS::Lambda::Function").items():
        props = fn["Properties"]
        assert props.get("Runtime", "python3.12") == "python3.12", name
        assert "Runtime" in props or props["PackageType"] == "Image", name  # an image has its own
        assert props["Architectures"] == ["arm64"], name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["KmsKeyArn"] == {"Fn::GetAtt": ["SelfhealKey", "Arn"]}, name
        env = props["Environment"]["Variables"]
        assert env["SELFHEAL_TABLE_NAME"] == {"Ref": "ErrorsTable"}, name
        assert env["SELFHEAL_PARAMETER_PREFIX"] == {"Ref": "ParameterPrefix"}, name


def test_table_stream_pitr_and_cmk(cfn: dict[str, Any]) -> None:
    table = cfn["Resources"]["ErrorsTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "fingerprint", "KeyType": "HASH"}]
    assert {"AttributeName": "fingerprint", "AttributeType": "S"} in table["AttributeDefinitions"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEType"] == "KMS"
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "SelfhealKey"}


def test_table_schema_is_the_store_adapters(cfn: dict[str, Any]) -> None:
    from selfheal.adapters.dynamodb_store import TABLE_SCHEMA

    table = cfn["Resources"]["ErrorsTable"]["Properties"]
    assert table["BillingMode"] == TABLE_SCHEMA["BillingMode"]
    assert table["KeySchema"] == TABLE_SCHEMA["KeySchema"]
    ours, theirs = table["AttributeDefinitions"], TABLE_SCHEMA["AttributeDefinitions"]
    assert sorted(map(json.dumps, ours)) == sorted(map(json.dumps, theirs))
    assert table["GlobalSecondaryIndexes"] == TABLE_SCHEMA["GlobalSecondaryIndexes"]
    view = TABLE_SCHEMA["StreamSpecification"]["StreamViewType"]
    assert table["StreamSpecification"]["StreamViewType"] == view


def test_queue_dlq_and_bucket(cfn: dict[str, Any]) -> None:
    queue = cfn["Resources"]["FixQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["FixDeadLetterQueue", "Arn"]}
    assert queue["KmsMasterKeyId"] == {"Ref": "SelfhealKey"}
    assert cfn["Resources"]["FixDeadLetterQueue"]["Properties"]["KmsMasterKeyId"] == {"Ref": "SelfhealKey"}
    bucket = cfn["Resources"]["ArtifactsBucket"]["Properties"]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["SelfhealKey", "Arn"]}}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    rule = bucket["LifecycleConfiguration"]["Rules"][0]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == {"Ref": "ArtifactRetentionDays"}


def test_event_source_mappings(cfn: dict[str, Any]) -> None:
    mappings = resources_of(cfn, "AWS::Lambda::EventSourceMapping")
    stream = mappings["DispatchFunctionErrorChanges"]["Properties"]
    assert stream["EventSourceArn"] == {"Fn::GetAtt": ["ErrorsTable", "StreamArn"]}
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    patterns = [json.loads(f["Pattern"]) for f in stream["FilterCriteria"]["Filters"]]
    assert patterns[0] == {"eventName": ["INSERT"]}
    assert patterns[1]["eventName"] == ["MODIFY"]
    assert set(patterns[1]["dynamodb"]["NewImage"]["status"]["S"]) == {"NEW", "QUEUED", "REGRESSED"}
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FixDeadLetterQueue", "Arn"]}
    sqs = mappings["StartFixFunctionFixRequests"]["Properties"]
    assert sqs["EventSourceArn"] == {"Fn::GetAtt": ["FixQueue", "Arn"]}
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_stream_filter_passes_exactly_the_changes_that_start_a_fix(cfn: dict[str, Any]) -> None:
    """The filter (AWS event-filtering semantics: any filter matches; a list matches any value)
    against the dispatch policy: whatever the policy would enqueue must pass the filter."""
    from selfheal.domain.records import ALLOWED_TRANSITIONS, ErrorRecord, Status
    from selfheal.services.policy import Policy

    filters = [json.loads(f["Pattern"]) for f in cfn["Resources"]["DispatchFunctionErrorChanges"]
               ["Properties"]["FilterCriteria"]["Filters"]]

    def passes(event_name: str, new_status: Status) -> bool:
        for f in filters:
            if event_name not in f["eventName"]:
                continue
            wanted = f.get("dynamodb", {}).get("NewImage", {}).get("status", {}).get("S")
            if wanted is None or new_status.value in wanted:
                return True
        return False

    policy = Policy(min_occurrences=3)
    for old_status, targets in ALLOWED_TRANSITIONS.items():
        for new_status in [*targets, old_status]:  # status changes and count updates
            for old_count, new_count in ((1, 1), (2, 3), (5, 6)):
                old = ErrorRecord(fingerprint="ab" * 16, status=old_status, count=old_count)
                new = ErrorRecord(fingerprint="ab" * 16, status=new_status, count=new_count)
                if policy.enqueue_reason(old, new) is not None:
                    assert passes("MODIFY", new_status), (old_status, new_status)
    for count in (1, 3):
        if policy.enqueue_reason(None, ErrorRecord(fingerprint="ab" * 16, count=count)) is not None:
            assert passes("INSERT", Status.NEW)
    assert not passes("MODIFY", Status.PR_OPEN) and not passes("MODIFY", Status.FIXING)
    assert not passes("REMOVE", Status.NEW)


def test_failed_log_batches_go_to_the_dead_letter_queue(cfn: dict[str, Any]) -> None:
    config = cfn["Resources"]["IngestFunctionEventInvokeConfig"]["Properties"]
    assert config["FunctionName"] == {"Ref": "IngestFunction"}
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FixDeadLetterQueue", "Arn"]}


def test_subscription_filter_is_conditional_and_uses_the_pattern(cfn: dict[str, Any]) -> None:
    sub = cfn["Resources"]["TracebackSubscription"]
    assert sub["Condition"] == "HasLogGroup"
    assert sub["Properties"]["LogGroupName"] == {"Ref": "LogGroupName"}
    assert sub["Properties"]["FilterPattern"] == {"Ref": "TracebackFilterPattern"}
    assert sub["Properties"]["DestinationArn"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}
    perm = cfn["Resources"]["IngestInvokePermission"]["Properties"]
    assert perm["Principal"] == "logs.amazonaws.com"


def test_alarms(cfn: dict[str, Any]) -> None:
    alarms = resources_of(cfn, "AWS::CloudWatch::Alarm")
    dlq = alarms["DeadLetterQueueDepthAlarm"]["Properties"]
    assert dlq["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["FixDeadLetterQueue", "QueueName"]}
    assert dlq["MetricName"] == "ApproximateNumberOfMessagesVisible"
    failed = alarms["FailedExecutionsAlarm"]["Properties"]
    metrics = {m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]
               for m in failed["Metrics"] if "MetricStat" in m}
    assert {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} <= set(metrics)
    assert metrics["ExecutionsFailed"]["Dimensions"][0]["Value"] == {"Ref": "FixStateMachine"}
    cost = alarms["FixCostSpikeAlarm"]["Properties"]
    assert (cost["Namespace"], cost["MetricName"]) == ("Selfheal", "FixCostUSD")
    spend = alarms["ModelSpendAlarm"]["Properties"]
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in spend["Metrics"] if "MetricStat" in m}
    assert {(m["Namespace"], m["MetricName"]) for m in stats.values()} == {
        ("AWS/Bedrock", "InputTokenCount"), ("AWS/Bedrock", "OutputTokenCount")}
    assert all(m["Dimensions"] == [{"Name": "ModelId", "Value": {"Ref": "ModelId"}}] for m in stats.values())
    expression = next(m["Expression"] for m in spend["Metrics"] if "Expression" in m)
    assert "${ModelInputPriceUsdPerMillion}" in expression["Fn::Sub"]
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


# ------------------------------------------------------------------------------ least privilege


def test_no_wildcard_permissions_on_function_roles(cfn: dict[str, Any]) -> None:
    for name in {**STEP_HANDLERS, **PIPELINE_HANDLERS}:
        for statement in role_statements(cfn, name):
            acts = statement["Action"]
            for action in [acts] if isinstance(acts, str) else acts:
                assert action != "*" and not action.endswith(":*"), (name, action)
            assert statement["Resource"] != "*", (name, statement)


def test_each_capability_belongs_to_one_function(cfn: dict[str, Any]) -> None:
    names = {**STEP_HANDLERS, **PIPELINE_HANDLERS}
    allowed = {name: actions_of(role_statements(cfn, name)) for name in names}
    assert [n for n, a in allowed.items() if "bedrock:InvokeModel" in a] == ["InvokeModelFunction"]
    # start_fix starts executions; the sweeper starts continuations that waited past 15 minutes
    assert sorted(n for n, a in allowed.items() if "states:StartExecution" in a) == ["StartFixFunction",
                                                                                     "SweepFunction"]
    assert sorted(n for n, a in allowed.items() if "sqs:SendMessage" in a) == ["DispatchFunction",
                                                                               "IngestFunction"]
    ingest_sends = [s for s in role_statements(cfn, "IngestFunction") if "sqs:SendMessage" in actions_of([s])]
    assert [s["Resource"] for s in ingest_sends] == [{"Fn::GetAtt": ["FixDeadLetterQueue", "Arn"]}]
    # Only the functions that build the code host read the prefix (the token among it): the
    # catalogue's states that use the source or the code host, and the PR sync.
    token_readers = {n for n in names for s in role_statements(cfn, n)
                     if "ssm:GetParameter" in actions_of([s])
                     and "parameter${ParameterPrefix}/*" in json.dumps(s["Resource"])}
    builders_of_the_host = {s.function_logical_id for s in STATES if s.needs_token}
    assert token_readers == builders_of_the_host | {"SyncPullRequestsFunction"}
    assert len(token_readers) <= 4
    settings_readers = {n for n, a in allowed.items() if "ssm:GetParameter" in a}
    assert settings_readers - token_readers == {s.function_logical_id for s in STATES
                                                if "parameters" in s.uses and not s.needs_token}
    assert not any(a.startswith("ssm:") for a in allowed["ValidatePatchFunction"])
    assert not any(a.startswith("s3:") for a in allowed["IngestFunction"])


def test_every_step_function_can_build_its_services_and_record_its_step(cfn: dict[str, Any]) -> None:
    # Each step handler builds what its catalogue entry uses (settings from SSM only where it
    # says "parameters") and the step recorder stores the step's input in S3 and its record in
    # DynamoDB. (The whole-chain IAM test checks every call made, not just these.)
    for state in STATES:
        allowed = actions_of(role_statements(cfn, state.function_logical_id))
        needed = {"s3:PutObject", "dynamodb:GetItem", "dynamodb:UpdateItem", "kms:Decrypt"}
        needed |= {"ssm:GetParameter"} if "parameters" in state.uses else set()
        assert needed <= allowed, (state.name, needed - allowed)
        assert ("ssm:GetParameter" in allowed) == ("parameters" in state.uses), state.name


# ------------------------------------------------------------------------------ filter pattern


def test_default_filter_pattern_matches_every_foundation_format(sam: dict[str, Any],
                                                               shared_dir: Path) -> None:
    pattern = sam["Parameters"]["TracebackFilterPattern"]["Default"]
    assert filter_terms(pattern)
    checked = 0
    for label_file in sorted((shared_dir / "bench" / "tracebacks").glob("*.json")):
        label = json.loads(label_file.read_text(encoding="utf-8"))
        if not label.get("tracebacks"):
            continue
        text = (label_file.parent / label["text_file"]).read_text(encoding="utf-8", errors="replace")
        assert filter_matches(pattern, text), label["id"]
        checked += 1
    assert checked >= 100


def test_default_filter_pattern_skips_ordinary_lines(sam: dict[str, Any]) -> None:
    pattern = sam["Parameters"]["TracebackFilterPattern"]["Default"]
    for line in ("2024-05-07 09:14:02,118 INFO [orders.api] request 1f POST /orders -> 201",
                 "START RequestId: 8f5e Version: $LATEST", "REPORT RequestId: 8f5e Duration: 3.1 ms"):
        assert not filter_matches(pattern, line)
    for line in ("[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'x'",
                 '{"errorMessage": "boom", "errorType": "KeyError", "stackTrace": ["  File ..."]}'):
        assert filter_matches(pattern, line)


# ------------------------------------------------------------------------------ moto


def _physical_ids(cf: Any, stack: str) -> dict[str, str]:
    summaries = cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in summaries}


def test_translated_stack_creates_in_moto(cfn: dict[str, Any]) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=PLACEHOLDER_BUCKET)
        for key in (CODE_KEY, LAYER_KEY):
            s3.put_object(Bucket=PLACEHOLDER_BUCKET, Key=key, Body=placeholder_zip())
        cf = boto3.client("cloudformation", region_name=REGION)
        cf.create_stack(StackName="selfheal", TemplateBody=json.dumps(cfn), Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": "LogGroupName", "ParameterValue": "/aws/lambda/orders"}])
        stack = cf.describe_stacks(StackName="selfheal")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        ids = _physical_ids(cf, "selfheal")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

        table = boto3.client("dynamodb", region_name=REGION).describe_table(
            TableName=ids["ErrorsTable"])["Table"]
        assert outputs["ErrorsTableName"] == table["TableName"]
        assert table["KeySchema"] == [{"AttributeName": "fingerprint", "KeyType": "HASH"}]
        assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["status-first_seen"]

        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.get_queue_attributes(QueueUrl=ids["FixQueue"], AttributeNames=["All"])["Attributes"]
        dlq = sqs.get_queue_attributes(QueueUrl=ids["FixDeadLetterQueue"],
                                       AttributeNames=["All"])["Attributes"]
        redrive = json.loads(queue["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
        assert int(redrive["maxReceiveCount"]) == 5
        assert queue["VisibilityTimeout"] == "180"
        assert int(dlq["MessageRetentionPeriod"]) == 14 * 24 * 3600

        lam = boto3.client("lambda", region_name=REGION)
        for logical, module in {**STEP_HANDLERS, **PIPELINE_HANDLERS}.items():
            conf = lam.get_function_configuration(FunctionName=ids[logical])
            # moto drops Architectures and TracingConfig: both are checked on the template above.
            assert conf["Runtime"] == "python3.12"
            assert conf["Handler"] == f"{module}.handler"
            assert conf["Environment"]["Variables"]["SELFHEAL_TABLE_NAME"] == table["TableName"]
        start_env = lam.get_function_configuration(FunctionName=ids["StartFixFunction"])["Environment"]
        assert start_env["Variables"][ENV_STATE_MACHINE_ARN] == outputs["StateMachineArn"]
        sources = {m["EventSourceArn"] for m in lam.list_event_source_mappings()["EventSourceMappings"]}
        assert table["LatestStreamArn"] in sources
        assert queue["QueueArn"] in sources

        sfn = boto3.client("stepfunctions", region_name=REGION)
        assert sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])["status"] == "ACTIVE"
        # moto leaves ${...} unsubstituted and ignores the type: create the workflow as
        # CloudFormation would, from the same definition and the functions moto created.
        definition = ASL.read_text(encoding="utf-8")
        definition = definition.replace("${" + QUEUE_URL_SUBSTITUTION + "}", ids["FixQueue"])
        for name in asl_placeholders(definition):
            arn = lam.get_function(FunctionName=ids[name.removesuffix("Arn")])["Configuration"]["FunctionArn"]
            definition = definition.replace("${" + name + "}", arn)
        created = sfn.create_state_machine(
            name="fix-error-express", definition=definition, type="EXPRESS",
            roleArn="arn:aws:iam::123456789012:role/" + ids["FixStateMachineRole"],
            loggingConfiguration={"level": "ALL", "includeExecutionData": True, "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:"
                                                          + ids["FixStateMachineLogGroup"] + ":*"}}]},
            tracingConfiguration={"enabled": True})
        described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
        assert described["type"] == "EXPRESS"
        assert "${" not in described["definition"]
        assert json.loads(described["definition"])["StartAt"] == json.loads(ASL.read_text())["StartAt"]
