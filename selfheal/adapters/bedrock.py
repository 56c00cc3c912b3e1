"""``FixModel`` over Amazon Bedrock's Converse API (boto3 ``bedrock-runtime``).

The client is injected; ``client=None`` builds one lazily with botocore's own retries switched off
(the workflow's ASL ``Retry`` owns backoff, so a throttled call surfaces at once as
``ModelThrottled``). ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` points the default client elsewhere.
"""

from __future__ import annotations

import time
from typing import Any

from selfheal.adapters.http_json import as_int, retry_after_header
from selfheal.domain.fixing import ModelReply, Prompt
from selfheal.errors import (
    ConfigurationError,
    ModelNotReady,
    ModelReplyMalformed,
    ModelRequestRejected,
    ModelThrottled,
    ModelUnavailable,
)

THROTTLING_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException",
                              "TooManyRequestsException", "Throttling", "RequestLimitExceeded"})
TRANSIENT_CODES = frozenset({"ModelTimeoutException", "InternalServerException",
                             "ServiceUnavailableException", "ModelErrorException",
                             "InternalFailure", "ServiceUnavailable"})


class BedrockModel:
    """A Bedrock model (default: ``settings.bedrock_model_id``) called through ``converse``."""

    def __init__(self, model_id: str, *, client: Any = None, region_name: str | None = None,
                 timeout: float = 300.0, temperature: float = 0.0) -> None:
        if not model_id:
            raise ConfigurationError("bedrock: a model id is required")
        self._model_id = model_id
        self._client = client
        self.region_name = region_name
        self.timeout = timeout
        self.temperature = temperature

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                            read_timeout=self.timeout, connect_timeout=10)
            self._client = boto3.client("bedrock-runtime", region_name=self.region_name, config=config)
        return self._client

    def complete(self, prompt: Prompt) -> ModelReply:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            HTTPClientError,
            ReadTimeoutError,
        )
        from botocore.parsers import ResponseParserError

        started = time.monotonic()
        try:
            response = self.client.converse(
                modelId=self._model_id,
                system=[{"text": prompt.system}],
                messages=[{"role": "user", "content": [{"text": prompt.user}]}],
                inferenceConfig={"maxTokens": prompt.max_output_tokens, "temperature": self.temperature},
            )
        except ClientError as exc:
            raise _map_client_error(exc) from None
        except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectTimeoutError,
                HTTPClientError) as exc:
            raise ModelUnavailable(f"bedrock unreachable: {exc}") from None
        except ResponseParserError as exc:
            raise ModelReplyMalformed(f"bedrock response could not be parsed: {str(exc)[:300]}") from None
        except BotoCoreError as exc:  # no credentials, no region, bad parameters
            raise ConfigurationError(f"bedrock client: {exc}") from None
        return _reply(response, self._model_id, int((time.monotonic() - started) * 1000))


def _map_client_error(exc: Any) -> Exception:
    response = exc.response if isinstance(exc.response, dict) else {}
    err = response.get("Error", {})
    code = str(err.get("Code", ""))
    meta = response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 0)
    message = str(err.get("Message", ""))[:300]
    wait = retry_after_header(meta.get("HTTPHeaders") or {})
    # ModelNotReadyException is an HTTP 429 too: its own condition, checked before throttling.
    if code == "ModelNotReadyException":
        return ModelNotReady(f"bedrock model is not ready ({code}): {message}", retry_after=wait)
    if code in THROTTLING_CODES or status == 429:
        return ModelThrottled(f"bedrock throttled the call ({code or status}): {message}", retry_after=wait)
    if code in TRANSIENT_CODES or status >= 500:
        return ModelUnavailable(f"bedrock failed transiently ({code or status}): {message}")
    return ModelRequestRejected(f"bedrock rejected the request ({code or status}): {message}")


def _reply(response: Any, model_id: str, latency_ms: int) -> ModelReply:
    """The reply with its usage, whatever the content: an empty or text-less content list (a reply
    cut off at ``max_tokens`` before any text, a guardrail) is an empty text for the caller to
    judge, not an error, so its tokens are still counted; only a body that is not a Converse reply
    at all (no ``output.message``) is ``ModelReplyMalformed``. Text blocks are joined with newlines;
    reasoning, tool-use and other blocks are not the answer and are skipped."""
    if not isinstance(response, dict):
        raise ModelReplyMalformed("bedrock response is not an object")
    usage: dict[str, Any] = response.get("usage") or {}
    metrics: dict[str, Any] = response.get("metrics") or {}
    if not isinstance(usage, dict) or not isinstance(metrics, dict):
        raise ModelReplyMalformed("bedrock response has an odd usage or metrics block")
    output = response.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    if not isinstance(message, dict):
        # Still billed when the body says so: the tokens travel with the error to be recorded.
        raise ModelReplyMalformed("bedrock response lacks output.message (not a Converse reply)",
                                  tokens_in=as_int(usage.get("inputTokens")),
                                  tokens_out=as_int(usage.get("outputTokens")))
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    texts = [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]
    latency = metrics.get("latencyMs")
    stop = response.get("stopReason")
    return ModelReply(text="\n".join(texts), model_id=model_id, tokens_in=as_int(usage.get("inputTokens")),
                      tokens_out=as_int(usage.get("outputTokens")),
                      stop_reason=stop if isinstance(stop, str) else None,
                      latency_ms=latency if isinstance(latency, int) else latency_ms)
