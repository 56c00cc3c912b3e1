"""``FixModel`` over Amazon Bedrock's Converse API (boto3 ``bedrock-runtime``).

The client is injected; ``client=None`` builds one lazily with botocore's own retries switched off
(the workflow's ASL ``Retry`` owns backoff, so a throttled call surfaces at once as
``ModelThrottled``). ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` points the default client elsewhere.
"""

from __future__ import annotations

import time
from typing import Any

from selfheal.domain.fixing import ModelReply, Prompt
from selfheal.errors import (
    ConfigurationError,
    ModelReplyMalformed,
    ModelRequestRejected,
    ModelThrottled,
    ModelUnavailable,
)

THROTTLING_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException",
                              "TooManyRequestsException", "Throttling", "RequestLimitExceeded"})
TRANSIENT_CODES = frozenset({"ModelTimeoutException", "InternalServerException",
                             "ServiceUnavailableException", "ModelNotReadyException", "ModelErrorException",
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
    err = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
    code = str(err.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    message = str(err.get("Message", ""))[:300]
    if code in THROTTLING_CODES or status == 429:
        return ModelThrottled(f"bedrock throttled the call ({code or status}): {message}")
    if code in TRANSIENT_CODES or status >= 500:
        return ModelUnavailable(f"bedrock failed transiently ({code or status}): {message}")
    return ModelRequestRejected(f"bedrock rejected the request ({code or status}): {message}")


def _reply(response: Any, model_id: str, latency_ms: int) -> ModelReply:
    try:
        content = response["output"]["message"]["content"]
        texts = [block["text"] for block in content if isinstance(block, dict) and "text" in block]
    except (KeyError, TypeError) as exc:
        raise ModelReplyMalformed(f"bedrock response lacks output.message.content ({exc!r})") from None
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ModelReplyMalformed("bedrock response has no text content")
    usage = response.get("usage") or {}
    metrics = response.get("metrics") or {}
    latency = metrics.get("latencyMs")
    return ModelReply(text="".join(texts), model_id=model_id, tokens_in=int(usage.get("inputTokens") or 0),
                      tokens_out=int(usage.get("outputTokens") or 0), stop_reason=response.get("stopReason"),
                      latency_ms=latency if isinstance(latency, int) else latency_ms)
