"""Construct-ID naming shared by every construct: IDs never depend on user input."""

from __future__ import annotations

import re


def pascal_case(name: str) -> str:
    """``corridor-worker-spark`` / ``worker_spark`` -> ``CorridorWorkerSpark`` / ``WorkerSpark``.

    A stable construct-ID part: changing it renames logical IDs, so it never changes.
    """
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)
