"""Faults the fakes answer with, and the GitHub fake's misbehaviours of the real service.

Each misbehaviour is one GitHub really shows (its REST docs and public issue threads): secondary
limits that name no wait, primary limits with a reset time, HTML 502s from the front end, replica
lag right after writes, and a concurrent run opening the same pull request first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


class HttpError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"message": message, **extra}


@dataclass
class Fault:
    status: int
    message: str
    headers: dict[str, str]
    times: int
    method: str | None = None
    path: str | None = None  # regular expression searched in the request path
    body: Any = None  # the answer's body (bytes are sent raw); None: {"message": message}
    headers_at: Any = None  # headers computed when the fault fires (reset times): () -> dict


class GitHubMisbehaviour:
    """Mixed into ``FakeGitHub``: queue the real service's misbehaviours."""

    faults: list[Fault]
    lag: dict[str, int]

    def secondary_limit(self, times: int = 1, *, status: int = 403, method: str | None = None,
                        path: str | None = None, with_primary_headers: bool = False) -> None:
        """A secondary rate limit as GitHub often sends it: no ``retry-after``; with
        ``with_primary_headers`` the primary window's headers ride along (requests remain, the
        reset is far away) and say nothing about this limit."""
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        fault = Fault(status, message, {}, times, method, path,
                      {"message": message, "documentation_url": "https://docs.github.com/rest"})
        if with_primary_headers:
            fault.headers_at = lambda: {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4312",
                                        "x-ratelimit-used": "688", "x-ratelimit-resource": "core",
                                        "x-ratelimit-reset": str(int(time.time()) + 2999)}
        self.faults.append(fault)

    def primary_limit(self, reset_in: int, times: int = 1, *, method: str | None = None,
                      path: str | None = None) -> None:
        """The primary limit spent: 403 with ``x-ratelimit-remaining: 0`` and a reset ``reset_in``
        seconds after the moment of the answer, no ``retry-after``."""
        message = "API rate limit exceeded for installation ID 1."
        fault = Fault(403, message, {}, times, method, path, {"message": message})
        fault.headers_at = lambda: {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                                    "x-ratelimit-used": "5000", "x-ratelimit-resource": "core",
                                    "x-ratelimit-reset": str(int(time.time()) + reset_in)}
        self.faults.append(fault)

    def bad_gateway(self, times: int = 1, *, path: str | None = None) -> None:
        """A 502 from the front end with an HTML body, as GitHub's proxies send it."""
        page = b"<html><body><h1>502 Server Error</h1>Unicorn! We had an issue.</body></html>"
        html = {"content-type": "text/html; charset=utf-8"}
        self.faults.append(Fault(502, "", html, times, None, path, page))

    def lag_new_branches(self, times: int = 1) -> None:
        """Creating a PR right after the branch was written: GitHub's PR service has not seen the
        new commits yet and answers 422 "No commits between" ``times`` times."""
        self.lag["pulls"] = times

    def lag_new_pulls(self, times: int = 1) -> None:
        """Labelling a PR just opened: 422 "Could not resolve to a node" ``times`` times."""
        self.lag["labels"] = times

    def race_pull(self) -> None:
        """Another worker opens the same PR between our listing and our create: the next create
        finds it there and answers 422 "A pull request already exists"."""
        self.lag["race"] = 1
