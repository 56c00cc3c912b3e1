"""Secrets from AWS Systems Manager Parameter Store (SecureString, decrypted with KMS).

A secret called ``github_token`` is the parameter ``<prefix>github_token`` (prefix
``/selfheal/`` by default). Values are cached for the life of the object (one Lambda
invocation environment), so a warm Lambda does not call SSM on every step.
"""

from __future__ import annotations

import threading
from typing import Any

from selfheal import known_secrets
from selfheal.errors import ConfigurationError, StoreUnavailable

_TRANSIENT = {"ThrottlingException", "TooManyUpdates", "InternalServerError", "ServiceUnavailable"}


class SsmSecrets:
    """``Secrets`` port over SSM Parameter Store."""

    def __init__(self, prefix: str = "/selfheal/", client: Any = None, region: str | None = None) -> None:
        if prefix and not prefix.startswith("/"):
            raise ConfigurationError(f"SSM parameter prefix must start with '/': {prefix!r}")
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self._client = client
        self._region = region
        self._cache: dict[str, str | None] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazily: the ingest Lambda never needs secrets

            self._client = boto3.client("ssm", region_name=self._region)
        return self._client

    def parameter_name(self, name: str) -> str:
        return name if name.startswith("/") else f"{self.prefix}{name}"

    def get(self, name: str) -> str | None:
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        from botocore.exceptions import BotoCoreError, ClientError

        param = self.parameter_name(name)
        try:
            resp = self.client.get_parameter(Name=param, WithDecryption=True)
            value: str | None = resp["Parameter"]["Value"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ParameterNotFound":
                value = None
            elif code in _TRANSIENT:
                raise StoreUnavailable(f"SSM throttled reading {param}: {code}") from exc
            else:
                raise ConfigurationError(f"cannot read SSM parameter {param}: {code}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"cannot reach SSM reading {param}: {type(exc).__name__}") from exc
        known_secrets.register(value)  # scrubbed from anything that leaves the process
        with self._lock:
            self._cache[name] = value
        return value
