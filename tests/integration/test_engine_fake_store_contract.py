"""The workflow tests' in-memory ``ErrorStore`` fake runs the adapters' own contract suite, so
it cannot drift from the SQLite and DynamoDB stores the product uses."""

from __future__ import annotations

import pytest

from tests.integration import test_store_contract as contract
from tests.support.workflow_fakes import MemoryErrorStore


@pytest.fixture
def store() -> MemoryErrorStore:
    return MemoryErrorStore()


# Fingerprint migration is each adapter's own code (selfheal.adapters.store_migration), not part of
# the ErrorStore port, so the fake has none.
_ADAPTER_ONLY = {"test_old_ids_and_their_prefixes_resolve_to_the_merged_record_after_a_migration",
                 "test_a_migration_keeps_the_captured_inputs_of_merged_records",
                 "test_a_migration_keeps_every_input_when_the_bound_allows"}

for _name in dir(contract):
    if _name.startswith("test_") and _name not in _ADAPTER_ONLY:
        globals()[_name] = getattr(contract, _name)
