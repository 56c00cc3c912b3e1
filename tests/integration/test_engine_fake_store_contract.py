"""The workflow tests' in-memory ``ErrorStore`` fake runs the adapters' own contract suite, so
it cannot drift from the SQLite and DynamoDB stores the product uses."""

from __future__ import annotations

import pytest

from tests.integration import test_store_contract as contract
from tests.support.workflow_fakes import MemoryErrorStore


@pytest.fixture
def store() -> MemoryErrorStore:
    return MemoryErrorStore()


for _name in dir(contract):
    if _name.startswith("test_"):
        globals()[_name] = getattr(contract, _name)
