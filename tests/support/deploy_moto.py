"""A moto server on 127.0.0.1 for the operator scripts, which take ``--endpoint-url``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.deploy_sam import REPO


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(url: str, service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=url)


def run_script(script: str, moto_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``bin/<script>`` as an operator would, with fake credentials and the moto endpoint."""
    env = {"PATH": os.environ.get("PATH", ""), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, str(Path(REPO) / "bin" / script), "--endpoint-url", moto_url,
                           *args], input=stdin, capture_output=True, text=True, env=env, timeout=120,
                          check=False)
