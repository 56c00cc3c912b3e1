"""Error classes named by condition.

The fix workflow's ASL matches ``ErrorEquals`` on these class names (a Lambda that raises
``ModelThrottled`` reports ``errorType: ModelThrottled``), so the names are part of the interface:
never rename one without changing ``statemachine/fix_error.asl.json``. Never classify errors by
their message text.
"""

from __future__ import annotations


class SelfhealError(Exception):
    """Base class of every error this package raises on purpose."""

    retryable = False


# --- transient: the workflow retries these with backoff -------------------------------------


class RetryableError(SelfhealError):
    """A transient condition; the same call may succeed later."""

    retryable = True


MAX_RETRY_AFTER_S = 3600.0  # the longest wait a service may ask for (GitHub's primary window is 1 h)


class RateLimited(RetryableError):
    """The service asked the caller to wait before trying again.

    ``retry_after`` is that wait in seconds, computed by the adapter from the service's own headers
    (``Retry-After``, GitHub's ``x-ratelimit-reset`` for a primary limit, at least 60 s for a GitHub
    secondary limit), clamped to ``[0, MAX_RETRY_AFTER_S]``; None when the service said nothing and
    the caller's own backoff applies. The workflow (not the adapter) honours it.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = (None if retry_after is None
                            else min(max(0.0, float(retry_after)), MAX_RETRY_AFTER_S))


def retry_after_of(exc: BaseException) -> float | None:
    """The wait the service asked for when ``exc`` is a ``RateLimited`` (seconds, capped), else None."""
    return exc.retry_after if isinstance(exc, RateLimited) else None


class ModelThrottled(RateLimited):
    """The model provider rate-limited or throttled the call (HTTP 429, ThrottlingException)."""


class ModelNotReady(RateLimited):
    """The model is not ready to serve yet (Bedrock ``ModelNotReadyException``, HTTP 429: a model
    being loaded, e.g. an imported model after a pause); the same call succeeds once it is loaded."""


class ModelUnavailable(RetryableError):
    """The model provider failed transiently (HTTP 5xx, timeout, connection refused)."""


class CodeHostRateLimited(RateLimited):
    """The code host rate-limited the call (403/429; ``retry_after`` from its headers)."""


class CodeHostUnavailable(RetryableError):
    """The code host failed transiently (HTTP 5xx, connection error)."""


class StepTimeout(RetryableError):
    """A step ran out of its time budget."""


class StoreUnavailable(RetryableError):
    """The error store failed transiently (throttling, a locked SQLite file)."""


class FixDeferred(RetryableError):
    """A fix cannot start now (the per-hour cap is reached, or another worker is starting it);
    the request stays queued and is retried later."""


# --- permanent: caught into RecordFailure ---------------------------------------------------


class PermanentError(SelfhealError):
    """A condition that retrying will not change."""


class MalformedInput(PermanentError):
    """Input (a log payload, an event, a state payload) could not be decoded or validated."""


class ErrorNotFound(PermanentError):
    """No error record exists for the fingerprint."""


class InvalidTransition(PermanentError):
    """A status change that the error status machine does not allow."""


class ConcurrentUpdate(PermanentError):
    """A conditional write lost a race: someone else changed the record first."""


class SourceNotFound(PermanentError):
    """No repository file matches any in-app frame of the error."""


class ModelReplyMalformed(PermanentError):
    """The model's reply did not parse as the edit format (or was no reply of its API at all).

    ``tokens_in``/``tokens_out``: what the provider billed for it when its body still said so
    (a Converse body with a usage block but no ``output.message``); the caller records them.
    """

    def __init__(self, message: str, *, tokens_in: int = 0, tokens_out: int = 0) -> None:
        super().__init__(message)
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out


class EditRejected(PermanentError):
    """A proposed edit breaks a safety rule (a file not offered, a path escape, a denied path)."""


class PatchDoesNotApply(PermanentError):
    """A search block was not found exactly once in its file."""


class ModelRequestRejected(PermanentError):
    """The model provider refused the request itself (HTTP 400/401/403/404: a bad model id, missing
    access, an invalid or oversized request); retrying the same request will not help."""


class CostCapReached(PermanentError):
    """A per-fix or per-day token/cost cap would be exceeded by the next call."""


class CodeHostAuthFailed(PermanentError):
    """The code host rejected the credentials (HTTP 401)."""


class CodeHostForbidden(PermanentError):
    """The code host refused the operation: missing permission or a protected branch."""


class PullRequestClosed(PermanentError):
    """The error's pull request was closed without merging; only a re-drive opens a new one."""


class HostKeyRejected(PermanentError):
    """SSH refused the remote because its host key is not the pinned one."""


class ConfigurationError(PermanentError):
    """Settings are missing or contradictory."""


class ArtifactNotFound(PermanentError):
    """An artifact reference points at nothing."""


class ArtifactChanged(PermanentError):
    """An artifact's content differs from the digest its reference carries (it was overwritten
    after it was written)."""


RETRYABLE_ERROR_NAMES = tuple(
    sorted(c.__name__ for c in (ModelThrottled, ModelUnavailable, CodeHostRateLimited,
                                CodeHostUnavailable, StepTimeout, StoreUnavailable))
)
# Raised only by the model call: InvokeModel's Retry matches these besides RETRYABLE_ERROR_NAMES.
MODEL_RETRYABLE_ERROR_NAMES = (ModelNotReady.__name__,)
