"""Settings that ``bin/configure`` keeps in SSM Parameter Store, as ``Settings`` fields.

``bin/configure`` writes one SecureString per answer under the stack's prefix (default
``/selfheal/``): ``repository_url``, ``code_host`` (``github`` | ``ssh``), ``github_token``,
``github_api_url``, ``ssh_private_key``, ``ssh_known_hosts``, ``base_branch``, ``log_group`` and
``model_id``. The two secrets (``github_token``, ``ssh_private_key``) are read where they are used,
through the ``Secrets`` port, under the names ``Settings.github_token_secret`` and
``Settings.ssh_key_secret`` already default to. The rest are settings: ``settings_from_parameters``
turns them into ``Settings`` fields, for the AWS composition to merge as explicit values::

    settings = load_settings(settings_from_parameters(SsmSecrets(prefix)), env=os.environ)
"""

from __future__ import annotations

import re
from typing import Any

from selfheal.errors import ConfigurationError
from selfheal.ports import Secrets

PARAMETER_NAMES = ("repository_url", "code_host", "github_token", "github_api_url", "ssh_private_key",
                   "ssh_known_hosts", "base_branch", "log_group", "model_id")
SECRET_NAMES = ("github_token", "ssh_private_key")

_HTTPS = re.compile(r"https://(?P<host>[^/\s]+)/(?P<owner>[^/\s]+)/(?P<name>[^/\s]+?)(?:\.git)?/?")
_SCP = re.compile(r"[\w.-]+@(?P<host>[\w.-]+):(?P<owner>[^/\s]+)/(?P<name>[^/\s]+?)(?:\.git)?")


def github_location(url: str) -> tuple[str, str | None]:
    """``https://github.com/acme/orders`` -> (``github:acme/orders``, None); a GitHub Enterprise
    host also gives its API base URL (``https://ghe.example.com/api/v3``)."""
    match = _HTTPS.fullmatch(url.strip()) or _SCP.fullmatch(url.strip())
    if match is None:
        if url.startswith("github:") and "/" in url:
            return url, None
        raise ConfigurationError(f"repository URL {url!r} does not name a GitHub repository "
                                 "(https://host/owner/name)")
    host = match["host"].lower()
    api = None if host in ("github.com", "www.github.com") else f"https://{host}/api/v3"
    return f"github:{match['owner']}/{match['name']}", api


def settings_from_parameters(secrets: Secrets) -> dict[str, Any]:
    """The ``Settings`` fields the stored parameters set (absent parameters set nothing)."""
    values = {name: secrets.get(name) for name in PARAMETER_NAMES if name not in SECRET_NAMES}
    out: dict[str, Any] = {}
    url, host = values.get("repository_url"), (values.get("code_host") or "").strip().lower()
    if url:
        if host in ("", "github") and not url.startswith(("ssh://", "file://")) and (
                host == "github" or _HTTPS.fullmatch(url.strip())):
            out["repo_url"], api = github_location(url)
            if api:
                out["github_base_url"] = api
        elif host in ("", "ssh"):
            out["repo_url"] = url.strip()
        else:
            raise ConfigurationError(f"code_host {host!r}: use github or ssh")
    if values.get("github_api_url"):
        out["github_base_url"] = values["github_api_url"]
    if values.get("ssh_known_hosts"):
        lines = str(values["ssh_known_hosts"]).splitlines()
        out["ssh_known_hosts"] = [ln.strip() for ln in lines if ln.strip()]
    if values.get("base_branch"):
        out["base_branch"] = values["base_branch"]
    if values.get("model_id"):
        out["model"] = f"bedrock:{values['model_id']}"
    return out
