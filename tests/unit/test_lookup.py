"""One resolver for what people type as an error id (``selfheal.services.lookup``), over the
``ErrorStore.find`` port method."""

from __future__ import annotations

import pytest

from selfheal.domain.records import Observation
from selfheal.errors import ErrorNotFound, MalformedInput
from selfheal.services.lookup import AmbiguousPrefix, resolve_fingerprint
from tests.support.workflow_fakes import MemoryErrorStore

A, B = "abc1" + "0" * 60, "abc2" + "0" * 60


@pytest.fixture
def store() -> MemoryErrorStore:
    s = MemoryErrorStore()
    for fp in (A, B):
        s.observe(Observation(fingerprint=fp, exc_type="KeyError", message="'x'"))
    return s


def test_full_id_unique_prefix_and_case(store: MemoryErrorStore) -> None:
    assert resolve_fingerprint(store, A) == A
    assert resolve_fingerprint(store, "abc2") == B
    assert resolve_fingerprint(store, "  ABC1  ") == A


def test_unknown_and_empty(store: MemoryErrorStore) -> None:
    with pytest.raises(ErrorNotFound, match="no error matches 'ffff'; list them with: selfheal errors"):
        resolve_fingerprint(store, "ffff")
    with pytest.raises(ErrorNotFound):
        resolve_fingerprint(store, " ")


def test_ambiguous_prefix_names_the_candidates(store: MemoryErrorStore) -> None:
    with pytest.raises(AmbiguousPrefix) as info:
        resolve_fingerprint(store, "abc")
    assert isinstance(info.value, MalformedInput)
    assert str(info.value) == ("'abc' matches more than one error (abc100000000, abc200000000); "
                               "give more characters")
