"""One masked snapshot per stack (environments and their DR stacks) and compute method.

Review every diff before `pytest --snapshot-update`: a changed logical ID, or a
replacement property of a database, file system, bucket or key, is a data-loss bug.
"""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.synth import ALL_STACKS, Synthesized, masked


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_template_matches_snapshot(any_compute: Synthesized, stack: str, snapshot: SnapshotAssertion) -> None:
    assert masked(any_compute.templates[stack]) == snapshot
