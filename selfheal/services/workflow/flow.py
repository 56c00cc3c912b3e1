"""Flow control carried on the workflow payload: waits asked for by a service, and the
continuation of a fix in a new execution (an Express execution ends after 5 minutes).

The names below cross the ASL boundary (``statemachine/fix_error.asl.json`` routes on
``$.flow`` and ``$.continue_at``); ``tests/unit/test_asl_budget.py`` holds the ASL to them.
"""

from __future__ import annotations

from pydantic import BaseModel

from selfheal.names import QUEUE_URL_SUBSTITUTION

# The Task that decides how a fix continues (inline wait, or a new execution).
CONTINUE_STATE = "ContinueFix"
# The ASL service-integration Task that re-queues the fix (SQS SendMessage with DelaySeconds).
REQUEUE_STATE = "Requeue"
# The Wait state fed by ``$.flow.wait_seconds`` (the ASL's ``WaitHere`` choice decides).
INLINE_WAIT_STATE = "RateLimitWait"
# The marker step a continuation leaves on its attempt; its ``artifacts["request"]`` is the
# input of the next execution, ``finished_at`` the moment that execution is due.
CONTINUED_MARKER = "Continued"
# The ASL substitution of the fix queue's URL (SAM DefinitionSubstitutions), and a placeholder
# value for checks that only parse the definition.
QUEUE_SUB = {QUEUE_URL_SUBSTITUTION: "https://sqs.us-east-1.amazonaws.com/123456789012/selfheal-fixes"}
# The queue message reason of a continuation (``functions/start_fix.py``).
CONTINUE_REASON = "continue"

# A wait up to this long of an ``INLINE_WAIT_STATES`` state happens inside the execution (a Wait
# state), once per execution; the ASL's ``WaitHere`` choice holds this number and the budget
# (``selfheal.domain.asl_budget``) is checked with it.
INLINE_WAIT_MAX_S = 60
# SQS DelaySeconds maximum; a longer wait is started by the scheduled sweeper when due.
SQS_MAX_DELAY_S = 900
# States whose rate-limit / transient errors become a wait instead of a failure.
DEFERRABLE_STATES = ("InvokeModel", "CommitBranch", "OpenPullRequest")
# States whose wait may be spent inside the execution (they are short).
INLINE_WAIT_STATES = ("CommitBranch", "OpenPullRequest")
# Continuations of one attempt before it counts as failed (a service that never recovers).
MAX_CONTINUATIONS = 24


class FlowControl(BaseModel):
    """What the deferrable steps, the ``ContinueFix`` state and the ASL's flow choices read and write."""

    wait_state: str | None = None  # a deferrable step asked to be run again after a wait
    wait_seconds: int | None = None  # whole seconds (the Wait state's SecondsPath)
    wait_error: str | None = None
    inline_waits: int = 0  # inline waits spent in this execution (the ASL sets it)
    delay_seconds: int | None = None  # the Requeue's DelaySeconds (set only for a re-queue)
    continuations: int = 0  # continuations of this attempt so far
    request: str | None = None  # artifact reference of the next execution's input
