"""bitrix_omni.memory: handing freed memory back changes no data, with or without glibc."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bitrix_omni import memory


@pytest.mark.parametrize("has_malloc_trim", [True, False])
def test_release_unused_keeps_live_data(monkeypatch: pytest.MonkeyPatch, has_malloc_trim: bool):
    calls: list[int] = []
    monkeypatch.setattr(
        memory, "_malloc_trim", lambda: (lambda pad: calls.append(pad)) if has_malloc_trim else None
    )
    kept = pa.array(range(100_000))
    dropped = pa.array(range(1_000_000))
    del dropped
    memory.release_unused()
    assert kept.sum().as_py() == sum(range(100_000))
    assert calls == ([0] if has_malloc_trim else [])


def test_malloc_trim_lookup_does_not_fail():
    memory._malloc_trim.cache_clear()
    found = memory._malloc_trim()
    assert found is None or callable(found)
