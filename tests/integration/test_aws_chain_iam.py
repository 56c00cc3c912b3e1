"""IAM as a tested contract: the deployed chain, driven in one go under moto, with every AWS call
each function makes authorised against THAT function's role in the translated template.

CloudWatch Logs subscription payload (gzip + base64, a real traceback) -> ingest -> DynamoDB ->
stream records filtered with the template's FilterCriteria -> dispatch -> SQS -> start_fix ->
the real ASL in moto's interpreter -> the step handlers (services built from the template's
environment and the SSM parameters bin/configure writes) -> Bedrock (a local Converse server) ->
fake GitHub. The first run fails in OpenPullRequest (GitHub refuses once): FAILED; bin/redrive
queues it again, and the fresh execution resumes at OpenPullRequest: PR_OPEN, with one model call
in all. Calls are checked by ``tests.support.iam_eval`` (a refused call fails like AWS's
AccessDenied); removing any one action a function used from its role is then refused, naming
function and action.
"""

from __future__ import annotations

import importlib
import io
import json
import linecache
import os
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from selfheal.adapters import moto_lambda_hook
from selfheal.adapters.dynamodb_store import DynamoDBErrorStore, create_table
from selfheal.adapters.sfn_local import DEFAULT_ASL, function_arn, substitute
from selfheal.compose import aws
from selfheal.domain.records import Status
from selfheal.errors import FixDeferred
from selfheal.names import QUEUE_URL_SUBSTITUTION
from selfheal.services.workflow.catalogue import STATES
from tests.support.deploy_sam import load_template, translate
from tests.support.fake_github import FakeGitHub
from tests.support.git_repos import make_bare_repo
from tests.support.iam_eval import ACCOUNT, REGION, Call, CallLog, Roles, pattern_matches
from tests.support.model_servers import ModelServer
from tests.support.tracking_aws import LambdaContext, StreamReader, sqs_event, stream_event
from tests.support.tracking_logs import cloudwatch_event

pytestmark = pytest.mark.timeout(600)

TABLE, BUCKET, PREFIX = "selfheal-errors", "selfheal-artifacts", "/selfheal"
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HANDLER = '''"""Order handler."""


def total(event):
    items = event["order_items"]
    return sum(i["price"] * i["qty"] for i in items)


def ratio(event):
    return event["paid"] / event["count"]


def handle(event, context=None):
    return {"statusCode": 200, "total": total(event)}
'''
TESTS = '''from app.handler import handle


def test_total():
    assert handle({"order_items": [{"price": 2, "qty": 3}]})["total"] == 6
'''
FIX = ('SUMMARY: an order without items totals 0\n<<<<<<< SEARCH app/handler.py\n'
       '    items = event["order_items"]\n=======\n    items = event.get("order_items", [])\n'
       '>>>>>>> REPLACE\n')
PIPELINE = {"IngestFunction": "functions.ingest", "DispatchFunction": "functions.dispatch",
            "StartFixFunction": "functions.start_fix", "SyncPullRequestsFunction": "functions.sync_prs",
            "SweepFunction": "functions.sweep"}


def real_traceback(function: str = "handle", event: dict[str, Any] | None = None) -> str:
    """The traceback the deployed service logs: its code run (as /var/task/app/handler.py) on an
    event it cannot handle (default: an order without ``order_items``)."""
    path = "/var/task/app/handler.py"
    linecache.cache[path] = (len(HANDLER), None, HANDLER.splitlines(True), path)
    namespace: dict[str, Any] = {}
    exec(compile(HANDLER, path, "exec"), namespace)  # noqa: S102 - our own fixture source
    try:
        namespace[function](event if event is not None else {"customer": "c-1"})
    except Exception as exc:  # noqa: BLE001 - any crash is the point
        return f"[ERROR] {type(exc).__name__}: {exc}\n" + traceback.format_exc()
    raise AssertionError("the sample handler did not fail")


def logged_crash(event: dict[str, Any] | None = None) -> str:
    """The crash as ``selfheal.lambda_helper`` logs it: one record with the request id, the event
    and the traceback from the handler down (it passes the default subscription filter), so the
    fix is verified by replaying the event (verified or no PR, issue #14)."""
    from selfheal.lambda_helper import lambda_helper

    path = "/var/task/app/handler.py"
    linecache.cache[path] = (len(HANDLER), None, HANDLER.splitlines(True), path)
    namespace: dict[str, Any] = {}
    exec(compile(HANDLER, path, "exec"), namespace)  # noqa: S102 - our own fixture source
    out = io.StringIO()
    context = type("Ctx", (), {"aws_request_id": "6f1c7a52-93de-4d0e-8d62-1b7c0e9f2a10"})()
    try:
        lambda_helper(namespace["handle"], stream=out)(event or {"customer": "c-1"}, context)
    except Exception:  # noqa: BLE001 - the crash is the point
        return out.getvalue().strip()
    raise AssertionError("the sample handler did not fail")


def load_redrive() -> Any:
    """``bin/redrive`` (a script without a .py suffix) as a module."""
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader

    path = Path(__file__).resolve().parents[2] / "bin" / "redrive"
    loader = SourceFileLoader("bin_redrive", str(path))
    spec = spec_from_loader("bin_redrive", loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module


@dataclass
class Chain:
    log: CallLog
    roles: Roles
    fingerprint: str
    model_calls: int
    first_status: Status
    first_failed_state: str | None
    final_status: Status
    synced_status: Status
    abstained_status: Status
    pr_url: str | None
    pulls: int
    executions: list[str]
    swept: tuple[Any, Any]  # (the lost fix, the long-waiting one) after the scheduled sweep


def physical_names(stream_arn: str, queue: tuple[str, str], dlq: tuple[str, str], machine: str,
                   key_arn: str) -> dict[str, str]:
    names = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
             "AWS::StackName": "selfheal", "AWS::URLSuffix": "amazonaws.com",
             "ErrorsTable": TABLE, "ErrorsTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}",
             "ErrorsTable.StreamArn": stream_arn, "ArtifactsBucket": BUCKET,
             "ArtifactsBucket.Arn": f"arn:aws:s3:::{BUCKET}", "FixQueue": queue[0], "FixQueue.Arn": queue[1],
             "FixDeadLetterQueue": dlq[0], "FixDeadLetterQueue.Arn": dlq[1], "FixStateMachine": machine,
             "SelfhealKey": key_arn.rsplit("/", 1)[-1], "SelfhealKey.Arn": key_arn, "ParameterPrefix": PREFIX,
             "ModelId": MODEL, "MaxAttempts": "3", "LogLevel": "INFO", "WorkflowType": "EXPRESS"}
    for state in STATES:
        names[state.function_logical_id] = f"selfheal-{state.name}"
        names[f"{state.function_logical_id}.Arn"] = function_arn(REGION, state.name)
    for logical in PIPELINE:
        names[logical] = f"selfheal-{logical}"
        names[f"{logical}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:selfheal-{logical}"
    return names


def function_env(cfn: dict[str, Any], logical: str, physical: dict[str, str]) -> dict[str, str]:
    from tests.support.iam_eval import resolve

    variables = cfn["Resources"][logical]["Properties"]["Environment"]["Variables"]
    return {k: str(resolve(v, physical)) for k, v in variables.items()}


def sweep_under_its_role(handler: Any, store: DynamoDBErrorStore, bucket: str,
                         env: dict[str, str]) -> tuple[str, str]:
    """The scheduled sweep, two hours on: a fix lost in ValidatePatch (its execution ended by
    Express's cap) becomes FAILED, and a continuation that waited past SQS's 15 minutes is
    started. The two records are set up as the workflow leaves them (outside every role)."""
    from datetime import timedelta

    from functions import sweep as sweep_function
    from selfheal.adapters.artifacts_s3 import S3ArtifactStore
    from selfheal.compose.sweep import sweep_aws
    from selfheal.domain.records import Observation, StepRecord, utcnow

    lost, waiting, now = "a1" * 16, "b2" * 16, utcnow()
    for fp in (lost, waiting):
        store.observe(Observation(fingerprint=fp, exc_type="KeyError", message="'x'"))
        store.transition(fp, Status.FIXING)
        store.start_attempt(fp, f"{fp[:12]}-1")
    store.record_step(lost, 1, StepRecord(state="ValidatePatch", started_at=now))
    ref = S3ArtifactStore(bucket).put_bytes(f"{waiting}/attempt-1/continue-1.json", json.dumps({
        "fingerprint": waiting, "attempt": 1, "resume_from": "MarkDone", "branch": "selfheal/b2",
        "pr_url": "https://github.com/acme/svc/pull/99", "flow": {"continuations": 1}}).encode())
    store.record_step(waiting, 1, StepRecord(
        state="Continued", started_at=now, finished_at=now + timedelta(seconds=1800), duration_ms=1_800_000,
        outcome="succeeded", cause="continue at MarkDone in 1800 s", artifacts={"request": ref}))
    original = sweep_function.run
    sweep_function.run = lambda: sweep_aws(env, now=now + timedelta(hours=2))
    try:
        assert handler({}, LambdaContext()) == {"checked": 2, "lost": 1, "started": 1}
    finally:
        sweep_function.run = original
    return lost, waiting


def spy_deferrals(mp: pytest.MonkeyPatch, starter: Any) -> list[str]:
    """The fingerprints whose start ``starter`` deferred (``FixDeferred``), as they happen."""
    deferred: list[str] = []
    start = starter.start

    def spied(request: Any, **kwargs: Any) -> Any:
        try:
            return start(request, **kwargs)
        except FixDeferred:
            deferred.append(request.fingerprint)
            raise

    mp.setattr(starter, "start", spied)
    return deferred


def handled(got: list[dict[str, Any]], out: dict[str, Any], deferred: list[str]) -> list[dict[str, Any]]:
    """The messages start_fix handled (to delete). A request that meets a fix mid-way through its
    final state (attempt finished, status not moved yet) is deferred: the one failure allowed,
    one per deferral; SQS delivers it again later, as Lambda's integration does."""
    failed = {f["itemIdentifier"] for f in out["batchItemFailures"]}
    assert len(failed) == len(deferred), (out, deferred)
    return [m for m in got if m["MessageId"] not in failed]


def run_chain(tmp: Path, cfn: dict[str, Any], mutate_roles: Callable[[Roles], Roles] | None = None) -> Chain:
    """The whole chain (see module docstring); returns what happened and every call made."""
    origin = make_bare_repo(tmp / "origin.git", files={
        "app/__init__.py": "", "app/handler.py": HANDLER, "tests/__init__.py": "",
        "tests/test_handler.py": TESTS})
    github = FakeGitHub(origin, owner="acme", name="svc")
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False},
              "core": {"passthrough": {"services": ["bedrockruntime"]}}}
    with github.serve(), ModelServer("bedrock") as bedrock, mock_aws(config=config), \
            pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
                            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url}.items():
            mp.setenv(name, value)
        bedrock.reply_text(FIX)

        # --- the stack's resources (what CloudFormation and bin/configure create) ---
        ddb = boto3.client("dynamodb", region_name=REGION)
        stream_arn = create_table(TABLE, ddb)["LatestStreamArn"]
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="selfheal-dlq")["QueueUrl"]
        queue_url = sqs.create_queue(QueueName="selfheal-fixes")["QueueUrl"]
        arn_of = {u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])
                  ["Attributes"]["QueueArn"] for u in (queue_url, dlq_url)}
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        ssm = boto3.client("ssm", region_name=REGION)
        for name, value in {"repository_url": "https://github.com/acme/svc", "code_host": "github",
                            "github_api_url": github.base_url, "github_token": github.token or "",
                            "base_branch": "main", "model_id": MODEL}.items():
            ssm.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type="SecureString", KeyId=key_arn)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        definition = substitute(DEFAULT_ASL.read_text(encoding="utf-8"),
                                {**{s.substitution: function_arn(REGION, s.name) for s in STATES},
                                 QUEUE_URL_SUBSTITUTION: queue_url})
        machine = sfn.create_state_machine(name="selfheal-fix-error", definition=definition, type="EXPRESS",
                                           roleArn=f"arn:aws:iam::{ACCOUNT}:role/fix")["stateMachineArn"]
        physical = physical_names(stream_arn, (queue_url, arn_of[queue_url]), (dlq_url, arn_of[dlq_url]),
                                  machine, key_arn)
        roles = Roles.from_template(cfn, physical)
        if mutate_roles is not None:
            roles = mutate_roles(roles)
        log = CallLog(roles, physical)

        # --- each function with its template environment, acting under its role ---
        step_env = function_env(cfn, STATES[0].function_logical_id, physical)
        for name, value in {**step_env, "SELFHEAL_HOME": str(tmp / "lambda-tmp"),
                            "SELFHEAL_RETRY_INTERVAL_SCALE": "0.001"}.items():
            mp.setenv(name, value)

        def as_function(logical: str, handler: Any) -> Any:
            def run(event: dict[str, Any], context: Any) -> Any:
                with log.acting_as(logical):
                    return handler(event, context)
            return run

        moto_lambda_hook.install({f"selfheal-{s.name}": as_function(
            s.function_logical_id, importlib.import_module(s.handler_module).handler) for s in STATES},
            retry_scale=0.001)
        handlers = {logical: as_function(logical, importlib.import_module(m).handler)
                    for logical, m in PIPELINE.items()}
        env = {logical: {**os.environ, **function_env(cfn, logical, physical)} for logical in PIPELINE}
        with log.installed():
            with log.acting_as("IngestFunction"):
                ingest = aws.build_ingest(env["IngestFunction"])
            with log.acting_as("DispatchFunction"):
                dispatch = aws.build_dispatch(env["DispatchFunction"])
            with log.acting_as("StartFixFunction"):
                starter = aws.build_start_fix(env["StartFixFunction"])
            aws.configure(ingest=ingest, dispatch=dispatch, start_fix=starter, sync=None, steps=None)
            deferred = spy_deferrals(mp, starter)
            try:
                reader = StreamReader(boto3.client("dynamodbstreams", region_name=REGION), stream_arn)
                filters = [json.loads(f["Pattern"]) for f in
                           cfn["Resources"]["DispatchFunctionErrorChanges"]["Properties"]["FilterCriteria"]["Filters"]]

                def pump() -> None:
                    """The stream's event source mapping (under Dispatch's role), then start_fix's."""
                    with log.acting_as("DispatchFunction"):
                        records = [r for r in reader.poll() if any(pattern_matches(p, r) for p in filters)]
                    if records:
                        assert handlers["DispatchFunction"](stream_event(records), LambdaContext()) == {
                            "batchItemFailures": []}
                    with log.acting_as("StartFixFunction"):
                        got = sqs.receive_message(QueueUrl=queue_url,
                                                  MaxNumberOfMessages=10).get("Messages", [])
                    if got:
                        deferred.clear()
                        out = handlers["StartFixFunction"](sqs_event(got, arn_of[queue_url]), LambdaContext())
                        done = handled(got, out, deferred)
                        with log.acting_as("StartFixFunction"):
                            for m in done:
                                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])

                def settle(fingerprint: str) -> list[str]:
                    """Deliver stream records and queue messages (continuations included) until
                    the error's fix has ended and no execution runs; the executions' names."""
                    deadline = time.monotonic() + 240
                    while True:
                        pump()
                        runs = sfn.list_executions(stateMachineArn=machine)["executions"]
                        record = DynamoDBErrorStore(TABLE, client=ddb).get(fingerprint)
                        done = record is not None and record.status not in (Status.QUEUED, Status.FIXING)
                        if done and all(r["status"] != "RUNNING" for r in runs):
                            return [r["name"] for r in runs]
                        assert time.monotonic() < deadline, (record, runs)
                        time.sleep(0.05)

                # GitHub refuses the first pull request: OpenPullRequest fails -> RecordFailure.
                github.inject(403, "Resource not accessible by integration", method="POST", path=r"/pulls$")
                result = handlers["IngestFunction"](cloudwatch_event([logged_crash()]), LambdaContext())
                assert len(result["new"]) == 1, result
                fp = result["new"][0]
                settle(fp)
                store = DynamoDBErrorStore(TABLE, client=ddb)
                first = store.get(fp)
                assert first is not None
                first_failed = first.attempts[-1].failed_state if first.attempts else None
                pump()  # the FAILED change is filtered out: nothing is queued

                redrive = load_redrive()  # the operator's script, in-process (moto is in-process)
                assert redrive.main([fp[:12], "--table", TABLE, "--bucket", BUCKET, "--region", REGION]) == 0
                # QUEUED -> dispatch -> SQS -> start_fix -> a fresh execution
                executions = settle(fp)
                final = store.get(fp)
                assert final is not None
                model_calls = len(bedrock.requests)

                # The PR is merged: the scheduled sync resolves the error.
                github.close_pull(max(github.pulls), merged=True)
                handlers["SyncPullRequestsFunction"]({}, LambdaContext())
                synced = store.get(fp)
                assert synced is not None

                # A second error, which the model declines to fix: RecordAbstain.
                bedrock.reply_text("ABSTAIN: a zero count needs a product decision")
                second = handlers["IngestFunction"](cloudwatch_event(
                    [real_traceback("ratio", {"paid": 3, "count": 0})]), LambdaContext())
                assert len(second["new"]) == 1, second
                settle(second["new"][0])
                abstained = store.get(second["new"][0])
                assert abstained is not None

                # The scheduled sweep, two hours on: a lost fix and a long wait.
                lost_fp, waiting_fp = sweep_under_its_role(handlers["SweepFunction"], store, BUCKET,
                                                           env["SweepFunction"])
                settle(waiting_fp)  # the continuation the sweeper started
                swept = (store.get(lost_fp), store.get(waiting_fp))
            finally:
                aws.configure(ingest=None, dispatch=None, start_fix=None, sync=None, steps=None)
    return Chain(log=log, roles=roles, fingerprint=fp, model_calls=model_calls,
                 first_status=first.status, first_failed_state=first_failed, final_status=final.status,
                 synced_status=synced.status, abstained_status=abstained.status,
                 pr_url=final.pr_url, pulls=len(github.pulls), executions=executions, swept=swept)


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(load_template())


@pytest.fixture(scope="module")
def chain(cfn: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return run_chain(tmp_path_factory.mktemp("chain"), cfn)


def test_the_chain_reaches_pr_open_under_each_functions_own_role(chain: Chain) -> None:
    assert chain.log.denied == []
    assert (chain.first_status, chain.first_failed_state) == (Status.FAILED, "OpenPullRequest")
    assert chain.final_status == Status.PR_OPEN and chain.pr_url and chain.pulls == 1
    assert chain.model_calls == 1  # the re-drive resumed at OpenPullRequest: no second model call
    # one attempt per execution chain (a continuation is named <name>-c<k>)
    assert {re.sub(r"-c\d+$", "", n) for n in chain.executions} == {
        f"{chain.fingerprint[:12]}-{n}" for n in (1, 2)}
    assert chain.synced_status == Status.RESOLVED  # the merged PR, seen by the scheduled sync
    assert chain.abstained_status == Status.ABSTAINED
    lost, waited = chain.swept  # the scheduled sweep: lost -> FAILED at its state; due -> started
    assert (lost.status, lost.attempts[-1].failed_state, lost.attempts[-1].reasons) == (
        Status.FAILED, "ValidatePatch", ["lost"])
    assert waited.status == Status.PR_OPEN
    used = {c.function for c in chain.log.calls}
    assert {s.function_logical_id for s in STATES} | set(PIPELINE) | {"FixStateMachine"} <= used


def test_only_the_code_host_builders_read_the_token(chain: Chain) -> None:
    token = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{PREFIX}/github_token"
    readers = {c.function for c in chain.log.calls if c.resource == token}
    assert readers == {"FetchSourceFunction", "CommitBranchFunction", "OpenPullRequestFunction",
                       "SyncPullRequestsFunction"}
    every = {f for f in chain.roles.statements if f.endswith("Function")}
    can_read = {f for f in every if chain.roles.allows(f, "ssm:GetParameter", token)}
    assert can_read == readers  # at most 4 roles can read it, and ValidatePatch is not one
    validate = [c for c in chain.log.calls if c.function == "ValidatePatchFunction"]
    assert validate and not any(c.action.startswith("ssm:") for c in validate)


def test_validate_patch_may_write_only_step_records(chain: Chain) -> None:
    """ValidatePatch runs model-written code: its role lets it record its steps, and nothing else
    in the table (not an error's status, PR or the cost buckets)."""
    table = chain.log.physical["ErrorsTable.Arn"]
    updates = [c for c in chain.log.calls if (c.function, c.action) == ("ValidatePatchFunction",
                                                                          "dynamodb:UpdateItem")]
    assert updates and all(dict(c.context)["dynamodb:Attributes"] == ("attempts", "fingerprint")
                           for c in updates)
    for attributes in (("fingerprint", "status"), ("fingerprint", "pr_url"),
                       ("fingerprint", "attempts", "status")):
        assert not chain.roles.allows("ValidatePatchFunction", "dynamodb:UpdateItem", table,
                                      (("dynamodb:Attributes", attributes),))
    assert not chain.roles.allows("ValidatePatchFunction", "dynamodb:UpdateItem", table, (
        ("dynamodb:Attributes", ("attempts", "fingerprint")), ("dynamodb:ReturnValues", ("ALL_OLD",))))
    assert chain.roles.allows("MarkDoneFunction", "dynamodb:UpdateItem", table,
                              (("dynamodb:Attributes", ("fingerprint", "status")),))


def test_removing_any_needed_action_is_refused_naming_function_and_action(chain: Chain) -> None:
    """Each (function, action) the chain used, removed in turn from that function's role, makes
    the recorded calls fail exactly there."""
    needed = sorted({(c.function, c.action) for c in chain.log.calls})
    assert len(needed) >= 20
    missed = []
    for function, action in needed:
        denied = chain.log.evaluate(chain.roles.without(function, action))
        if not any(isinstance(c, Call) and (c.function, c.action) == (function, action) for c in denied):
            missed.append((function, action))
    assert missed == []


def granted_actions() -> list[tuple[str, str]]:
    """(function, action) for every action a role's inline policies grant (logs and X-Ray aside:
    Lambda and Step Functions use them outside the code)."""
    cfn = translate(load_template())
    pairs = set()
    for logical, res in cfn["Resources"].items():
        if res["Type"] not in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
            continue
        ref = res["Properties"].get("Role") or res["Properties"].get("RoleArn")
        role = cfn["Resources"][ref["Fn::GetAtt"][0]]["Properties"]
        for policy in role.get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                for action in [st["Action"]] if isinstance(st["Action"], str) else st["Action"]:
                    if action.split(":")[0] not in ("logs", "xray"):
                        pairs.add((logical, action))
    return sorted(pairs)


# Granted for paths the chain does not drive (each with the reason it is still needed).
NOT_DRIVEN = {
    ("IngestFunction", "sqs:SendMessage"): "Lambda sends a batch that failed all retries to the DLQ",
    ("SyncPullRequestsFunction", "dynamodb:GetItem"): "a transition that loses a race reads the record",
    ("IngestFunction", "kms:Decrypt"): "the encrypted table (DynamoDB's key use is not modelled)",
    ("IngestFunction", "kms:GenerateDataKey"): "the encrypted table and the DLQ destination",
    ("StartFixFunction", "kms:GenerateDataKey"): "the encrypted table (DynamoDB's key use is not modelled)",
    ("SyncPullRequestsFunction", "kms:GenerateDataKey"): "the encrypted table (not modelled)",
    **{(f, "kms:Decrypt"): "the encrypted table (DynamoDB's key use is not modelled)"
       for f in ("MarkDoneFunction", "RecordFailureFunction", "RecordAbstainFunction",
                 "ContinueFixFunction")},
}


@pytest.mark.parametrize(("function", "action"), granted_actions(), ids=lambda v: str(v))
def test_every_granted_action_is_needed(chain: Chain, function: str, action: str) -> None:
    """Least privilege, both ways: without this action the chain's own calls are refused, naming
    function and action (so nothing is granted that no path uses)."""
    if (function, action) in NOT_DRIVEN:
        pytest.skip(NOT_DRIVEN[(function, action)])
    if function not in {c.function for c in chain.log.calls}:
        # (the first test requires every catalogue state, the pipeline and the state machine)
        pytest.skip(f"{function} is not driven by this chain")
    denied = chain.log.evaluate(chain.roles.without(function, action))
    assert (function, action) in {(c.function, c.action) for c in denied}, (
        f"{function} is granted {action} but no call of the chain needs it")


def test_a_missing_action_fails_the_live_call_like_aws(cfn: dict[str, Any]) -> None:
    """Live, not only on replay: without PutItem, ingest's first sighting is AccessDenied (the
    bug the template had), named by function and action."""
    from botocore.exceptions import ClientError

    with mock_aws(), pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        create_table(TABLE, boto3.client("dynamodb", region_name=REGION))
        physical = physical_names("arn:stream", ("q", "arn:q"), ("d", "arn:d"), "arn:sm", "arn:aws:kms:k/1")
        roles = Roles.from_template(cfn, physical).without("IngestFunction", "dynamodb:PutItem")
        log = CallLog(roles, physical)
        env = {**os.environ, **function_env(cfn, "IngestFunction", physical)}
        with log.installed():
            with log.acting_as("IngestFunction"):
                aws.configure(ingest=aws.build_ingest(env))
            try:
                with log.acting_as("IngestFunction"), pytest.raises(ClientError, match="dynamodb:PutItem"):
                    importlib.import_module("functions.ingest").handler(
                        cloudwatch_event([real_traceback()]), LambdaContext())
            finally:
                aws.configure(ingest=None)
    assert [(c.function, c.action) for c in log.denied] == [("IngestFunction", "dynamodb:PutItem")]
