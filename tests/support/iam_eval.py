"""Per-role IAM for in-process tests: every botocore call a Lambda makes is authorised against
THAT function's role in the translated template.

- ``Roles`` reads each role of the translated template (inline policies, which include the
  expanded SAM policy templates, plus the AWS managed policies it attaches, expanded from
  ``MANAGED``) and resolves the intrinsic functions with the physical names of a test stack.
- ``iam_requests`` turns one botocore call (service, operation, parameters) into the IAM
  (action, resource) pairs AWS authorises for it.
- ``CallLog.acting_as(function)`` attributes the calls made inside it; the patched
  ``BaseClient._make_api_call`` records each call and, when ``enforce`` is set, refuses a call
  the role does not allow with an ``AccessDenied`` ``ClientError`` naming function and action,
  as AWS would.

Evaluation: Deny wins, else an Allow must match; actions and resources match with ``*``/``?``
wildcards (actions case-insensitively). Conditions: ``ForAllValues:StringEquals`` and
``StringEqualsIfExists`` on the DynamoDB keys ``dynamodb:Attributes`` (the top-level attributes a
request names: key, update, condition and projection expressions, a put's item) and
``dynamodb:ReturnValues``. Any other condition, ``NotAction`` or ``NotResource`` is refused (this
evaluator would get it wrong).

KMS: the stack's key encrypts the bucket, the queues and the SecureString parameters, and AWS
authorises the implied KMS use against the caller's role: ``implied_kms`` adds those requests
(PutObject: ``kms:GenerateDataKey``; SendMessage: that and ``kms:Decrypt``;
GetObject/ReceiveMessage/GetParameter: ``kms:Decrypt``). DynamoDB's use of the key is not
modelled (the roles' KMS grants it needs are listed as not driven by the chain test).
"""

from __future__ import annotations

import contextvars
import fnmatch
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"

# The AWS managed policies SAM attaches, as AWS publishes them (only what matters here).
_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
MANAGED: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [{"Effect": "Allow", "Action": _LOGS, "Resource": "*"}],
    "AWSXrayWriteOnlyAccess": [{"Effect": "Allow", "Resource": "*", "Action": [
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"]}],
    "AWSLambdaDynamoDBExecutionRole": [{"Effect": "Allow", "Resource": "*", "Action": [
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
        "dynamodb:ListStreams", *_LOGS]}],
    "AWSLambdaSQSQueueExecutionRole": [{"Effect": "Allow", "Resource": "*", "Action": [
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS]}],
}


# --- the roles of a translated template ---------------------------------------------------------

def resolve(value: Any, physical: dict[str, str]) -> Any:
    """Resolve ``Ref``/``Fn::GetAtt``/``Fn::Sub``/``Fn::Join`` with ``physical`` names
    (``Logical`` for a Ref, ``Logical.Attr`` for a GetAtt, ``AWS::Region`` and parameters)."""
    if isinstance(value, list):
        return [resolve(v, physical) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return physical[value["Ref"]]
    if "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"] if isinstance(value["Fn::GetAtt"], list) \
            else value["Fn::GetAtt"].split(".", 1)
        return physical[f"{logical}.{attr}"]
    if "Fn::Sub" in value:
        spec = value["Fn::Sub"]
        text, local = (spec, {}) if isinstance(spec, str) else (spec[0], spec[1])
        names = {**physical, **{k: str(resolve(v, physical)) for k, v in local.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], text)
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(str(resolve(p, physical)) for p in parts)
    if "Fn::If" in value:  # a template condition: the branch whose resources the stack has
        _condition, when_true, when_false = value["Fn::If"]
        try:
            return resolve(when_true, physical)
        except KeyError:
            return resolve(when_false, physical)
    raise ValueError(f"unsupported intrinsic in a role policy: {value}")


@dataclass
class Roles:
    """Each function's (and the state machine's) resolved policy statements."""

    statements: dict[str, list[dict[str, Any]]]

    @classmethod
    def from_template(cls, cfn: dict[str, Any], physical: dict[str, str]) -> Roles:
        out: dict[str, list[dict[str, Any]]] = {}
        resources = cfn["Resources"]
        for logical, res in resources.items():
            if res["Type"] not in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
                continue
            role_ref = res["Properties"].get("Role") or res["Properties"].get("RoleArn")
            role_name = role_ref["Fn::GetAtt"][0] if isinstance(role_ref, dict) else None
            if role_name is None or role_name not in resources:
                continue
            props = resources[role_name]["Properties"]
            statements = [s for p in props.get("Policies", [])
                          for s in p["PolicyDocument"]["Statement"]]
            for arn in props.get("ManagedPolicyArns", []):
                name = str(resolve(arn, physical)).rsplit("/", 1)[-1]
                if name not in MANAGED:
                    raise KeyError(f"{logical} attaches managed policy {name}: add it to MANAGED")
                statements += MANAGED[name]
            for st in statements:
                bad = {"NotAction", "NotResource"} & set(st)
                for operator, keys in st.get("Condition", {}).items():
                    if operator not in _OPERATORS or set(keys) - _CONDITION_KEYS:
                        bad.add(f"Condition {operator} {sorted(keys)}")
                if bad:
                    raise ValueError(f"{logical}: this evaluator does not handle {sorted(bad)}")
            out[logical] = [{**st, "Resource": resolve(st["Resource"], physical)} for st in statements]
        return cls(out)

    def without(self, function: str, action: str) -> Roles:
        """A copy in which ``function``'s role no longer grants ``action`` (other actions of the
        same statements stay granted)."""
        copy = {k: list(v) for k, v in self.statements.items()}
        trimmed = []
        for st in copy[function]:
            actions = _as_list(st["Action"])
            kept = [a for a in actions if a.lower() != action.lower()]
            if st["Effect"] == "Allow" and len(kept) != len(actions):
                if kept:
                    trimmed.append({**st, "Action": kept})
                continue
            trimmed.append(st)
        copy[function] = trimmed
        return Roles(copy)

    def allows(self, function: str, action: str, resource: str, context: Context = ()) -> bool:
        statements = self.statements.get(function)
        if statements is None:
            raise KeyError(f"no role for {function} in the template")
        matching = [s for s in statements if _matches(s, action, resource, dict(context))]
        if any(s["Effect"] == "Deny" for s in matching):
            return False
        return any(s["Effect"] == "Allow" for s in matching)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# A request's condition context: (key, values) pairs; a key that is absent is not in it.
Context = tuple[tuple[str, tuple[str, ...]], ...]
_OPERATORS = {"ForAllValues:StringEquals", "StringEqualsIfExists"}
_CONDITION_KEYS = {"dynamodb:Attributes", "dynamodb:ReturnValues"}


def _matches(statement: dict[str, Any], action: str, resource: str,
             context: dict[str, tuple[str, ...]]) -> bool:
    actions = _as_list(statement["Action"])
    resources = _as_list(statement["Resource"])
    return (any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)
            and any(fnmatch.fnmatchcase(resource, r) for r in resources)
            and all(_condition(op, key, _as_list(allowed), context.get(key))
                    for op, keys in statement.get("Condition", {}).items() for key, allowed in keys.items()))


def _condition(operator: str, key: str, allowed: list[str], values: tuple[str, ...] | None) -> bool:
    if values is None:  # the request does not carry the key: both operators are then true
        return True
    if operator == "ForAllValues:StringEquals":
        return all(v in allowed for v in values)
    return len(values) == 1 and values[0] in allowed  # StringEqualsIfExists


_KEYWORDS = {"SET", "ADD", "REMOVE", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN", "attribute_exists",
             "attribute_not_exists", "attribute_type", "begins_with", "contains", "size", "if_not_exists",
             "list_append"}
_PATH = re.compile(r"(?<![:\w#.])(#?[A-Za-z_]\w*)")


def _attributes(params: dict[str, Any]) -> tuple[str, ...] | None:
    """The top-level attribute names a DynamoDB request names (``dynamodb:Attributes``)."""
    names = params.get("ExpressionAttributeNames") or {}
    found: set[str] = set(params.get("Key") or {}) | set(params.get("Item") or {})
    expressions = [params.get(k) for k in ("UpdateExpression", "ConditionExpression", "ProjectionExpression",
                                           "FilterExpression", "KeyConditionExpression")]
    for expression in filter(None, expressions):
        for token in _PATH.findall(expression):
            if token not in _KEYWORDS:
                found.add(names.get(token, token))
    projected = bool(params.get("ProjectionExpression"))
    writes = bool(params.get("UpdateExpression") or params.get("Item"))
    return tuple(sorted(found)) if (projected or writes) else None


def _dynamodb_context(params: dict[str, Any]) -> Context:
    context: list[tuple[str, tuple[str, ...]]] = []
    attributes = _attributes(params)
    if attributes is not None:
        context.append(("dynamodb:Attributes", attributes))
    if params.get("ReturnValues"):
        context.append(("dynamodb:ReturnValues", (params["ReturnValues"],)))
    return tuple(context)


# --- one botocore call -> the IAM requests it makes ---------------------------------------------

_ACTION_NAMES = {("bedrock", "Converse"): "InvokeModel",
                 ("bedrock", "ConverseStream"): "InvokeModelWithResponseStream",
                 ("lambda", "Invoke"): "InvokeFunction", ("s3", "HeadObject"): "GetObject",
                 ("s3", "ListObjectsV2"): "ListBucket"}
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
             "ConditionCheck": "ConditionCheckItem"}


def _table(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def _queue(url: str) -> str:
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{REGION}:{account}:{name}"


def iam_requests(prefix: str, operation: str, params: dict[str, Any],
                 physical: dict[str, str]) -> list[tuple[str, str, Context]]:
    """The (action, resource ARN, condition context) triples AWS authorises for ``operation`` of
    the service whose signing name is ``prefix``; ``KeyError`` for a call this table does not
    know (so a new kind of call cannot pass unchecked)."""
    if prefix == "dynamodb" and operation == "TransactWriteItems":
        return [(f"dynamodb:{_TRANSACT[kind]}", _table(body["TableName"]), _dynamodb_context(body))
                for item in params["TransactItems"] for kind, body in item.items()]
    context = _dynamodb_context(params) if prefix == "dynamodb" else ()
    return [(a, r, context) for a, r in _requests(prefix, operation, params, physical)]


def _requests(prefix: str, operation: str, params: dict[str, Any],  # noqa: C901 - one case per API
              physical: dict[str, str]) -> list[tuple[str, str]]:
    action = f"{prefix}:{_ACTION_NAMES.get((prefix, operation), operation)}"
    if prefix == "dynamodb":
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(action, _table(t)) for t in params["RequestItems"]]
        if operation in ("DescribeStream", "GetShardIterator"):
            return [(action, params["StreamArn"])]
        if operation == "GetRecords":
            return [(action, physical["ErrorsTable.StreamArn"])]
        table = _table(params["TableName"])
        if params.get("IndexName"):
            table += f"/index/{params['IndexName']}"
        return [(action, table)]
    if prefix == "sqs":
        return [(action, _queue(params["QueueUrl"]))]
    if prefix == "s3":
        key = params.get("Key")
        return [(action, f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key else ""))]
    if prefix == "ssm":
        names = params.get("Names") or [params.get("Name") or params.get("Path")]
        return [(action, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{n}") for n in names]
    if prefix == "states":
        return [(action, params.get("stateMachineArn") or params.get("executionArn") or "*")]
    if prefix == "bedrock":
        model = params["modelId"]
        if model.startswith("arn:"):
            return [(action, model)]
        if re.match(r"^(us|eu|apac|global)\.", model):  # a cross-region inference profile
            return [(action, f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{model}")]
        return [(action, f"arn:aws:bedrock:{REGION}::foundation-model/{model}")]
    if prefix == "lambda" and operation == "Invoke":
        name = params["FunctionName"]
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return [(action, arn)]
    raise KeyError(f"no IAM mapping for {prefix}:{operation}")


# SQS documents both for a producer of an encrypted queue.
_KMS_USE = {"s3:PutObject": ["kms:GenerateDataKey"], "s3:GetObject": ["kms:Decrypt"],
            "sqs:SendMessage": ["kms:GenerateDataKey", "kms:Decrypt"], "sqs:ReceiveMessage": ["kms:Decrypt"],
            "ssm:GetParameter": ["kms:Decrypt"]}


def implied_kms(requests: list[tuple[str, str, Context]],
                physical: dict[str, str]) -> list[tuple[str, str, Context]]:
    """The KMS requests AWS makes as the caller for requests on the stack's encrypted resources
    (the artifacts bucket, the two queues, the parameters under the prefix)."""
    key = physical.get("SelfhealKey.Arn")
    if key is None:
        return []
    encrypted = [physical[k] for k in ("ArtifactsBucket.Arn", "FixQueue.Arn", "FixDeadLetterQueue.Arn")
                 if k in physical]
    if "ParameterPrefix" in physical:
        encrypted.append(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{physical['ParameterPrefix']}/")
    return [(kms, key, ()) for action, resource, _ in requests
            if action in _KMS_USE and any(resource.startswith(e) for e in encrypted)
            for kms in _KMS_USE[action]]


# --- recording and enforcing ----------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    function: str
    action: str
    resource: str
    context: Context = ()


@dataclass
class CallLog:
    """Calls made by each function (see module docstring)."""

    roles: Roles
    physical: dict[str, str]
    enforce: bool = True
    calls: list[Call] = field(default_factory=list)
    denied: list[Call] = field(default_factory=list)
    _acting: contextvars.ContextVar[str | None] = field(
        default_factory=lambda: contextvars.ContextVar("acting", default=None))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def acting_as(self, function: str) -> Iterator[None]:
        token = self._acting.set(function)
        try:
            yield
        finally:
            self._acting.reset(token)

    def check(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        model = client.meta.service_model
        prefix = model.signing_name
        function = self._acting.get()
        if function is None:
            # Outside every function: the test's own setup (the main thread), else moto's
            # interpreter running an execution: the state machine's role invokes the steps and
            # makes the service integrations' calls (an SQS send, say).
            if threading.current_thread() is threading.main_thread() or prefix not in ("lambda", "sqs"):
                return
            function = "FixStateMachine"
        requests = iam_requests(prefix, operation, params, self.physical)
        for action, resource, context in requests + implied_kms(requests, self.physical):
            call = Call(function, action, resource, context)
            with self._lock:
                self.calls.append(call)
            if not self.roles.allows(function, action, resource, context):
                with self._lock:
                    self.denied.append(call)
                if self.enforce:
                    from botocore.exceptions import ClientError

                    message = f"{function} is not authorized to perform: {action} on resource: {resource}"
                    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}},
                                      operation)

    def evaluate(self, roles: Roles) -> list[Call]:
        """The recorded calls ``roles`` would refuse."""
        return [c for c in dict.fromkeys(self.calls)
                if not roles.allows(c.function, c.action, c.resource, c.context)]

    @contextmanager
    def installed(self) -> Iterator[CallLog]:
        """Check every botocore API call in this process while inside."""
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        log = self

        def checked(client: Any, operation: str, params: dict[str, Any]) -> Any:
            log.check(client, operation, params)
            return original(client, operation, params)

        BaseClient._make_api_call = checked  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]


def pattern_matches(pattern: Any, event: Any) -> bool:
    """EventBridge-style matching as Lambda event filtering applies ``FilterCriteria``: every key
    of the pattern must match; a list lists the accepted values of a leaf."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(k in event and pattern_matches(v, event[k])
                                               for k, v in pattern.items())
    if isinstance(pattern, list):
        return event in pattern
    return bool(pattern == event)
