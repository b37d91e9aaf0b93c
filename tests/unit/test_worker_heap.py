"""The worker process's collector settings."""

from __future__ import annotations

import gc

from betteruptime.worker.heap import YOUNG_COLLECTION_THRESHOLD, tune_for_checks


def test_tuning_freezes_the_start_up_heap_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    try:
        tune_for_checks()
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, before[1], before[2])
        # Everything alive now (this test run's modules at least) is out of the collector's way.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
