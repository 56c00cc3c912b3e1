"""The one environment scrubber for every subprocess selfheal starts (tests, git, the demo).

An allow-list of harmless variables, minus anything that looks like a credential or a way to
reach one (the deny patterns win over the allow-list and over ``extra``).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence

# Variables a child may see (before the deny patterns below, which win).
ALLOW_NAMES = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONHASHSEED", "PYTHONUTF8",
                         "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS",
                         "PYTHONFAULTHANDLER", "SOURCE_DATE_EPOCH"})
ALLOW_PATTERNS = ("LC_*",)
# Anything that looks like a credential or a way to reach one, even if allowed above.
DENY_PATTERNS = ("AWS_*", "*_TOKEN", "*TOKEN*", "*_KEY", "*_KEY_*", "*KEY_ID*", "*SECRET*", "*PASSWORD*",
                 "*PASSWD*", "*CREDENTIAL*", "GITHUB_*", "GH_*", "GITLAB_*", "SSH_*", "GPG_*", "GNUPG*",
                 "ANTHROPIC_*", "OPENAI_*", "AZURE_*", "GOOGLE_*", "GCP_*", "SELFHEAL_*", "*_AUTH*",
                 "DOCKER_*", "KUBECONFIG", "NETRC", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")


def matches(name: str, patterns: Sequence[str]) -> bool:
    """``name`` (case-insensitive) matches one of the shell-style ``patterns``."""
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, p) for p in patterns)


def is_credential_name(name: str) -> bool:
    """The variable's name says it holds (or leads to) a credential."""
    return matches(name, DENY_PATTERNS)


def scrub_env(env: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None, *,
              keep: Iterable[str] = ()) -> dict[str, str]:
    """Keep only harmless variables of ``env`` (default ``os.environ``) plus the names in
    ``keep``; never anything credential-like (``extra`` too)."""
    env = os.environ if env is None else env
    allowed = ALLOW_NAMES | frozenset(keep)
    kept = {k: v for k, v in env.items()
            if (k in allowed or matches(k, ALLOW_PATTERNS)) and not is_credential_name(k)}
    kept.setdefault("PATH", os.defpath)
    kept.setdefault("LANG", "C.UTF-8")
    for k, v in (extra or {}).items():
        if not is_credential_name(k):
            kept[k] = v
    return kept
