"""Helpers shared by the transfer tests."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from asr.cli.main import cli
from asr.store import DiskStore
from asr.store.fsck import fsck

TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "FORCE_COLOR": None}


def run(*args: str, exit_code: int = 0):
    result = CliRunner(env=TERMINAL).invoke(cli, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result


def revise(store: DiskStore, uid: str, note: str) -> str:
    """A new revision of a Record (as a migration would make); its id."""
    head = store.head(uid)
    metadata = head.payload.get("metadata", {})  # bulk-written ones have none
    payload = dict(head.payload, metadata={**metadata, "note": note})
    return store.commit(payload, uid=uid, parent=head.oid, index=head.index).oid


def assert_clean(*stores: DiskStore) -> None:
    for store in stores:
        store.refresh()
        report = fsck(store)
        assert report.ok, report.errors


@pytest.fixture
def runner():
    return run
