"""Tests of bitrix_omni.kernels: bulk DuckDB kernels equal the plain Python answers."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitrix_omni import kernels

TEXT = st.one_of(st.none(), st.text(max_size=12))


def _hashlib(values: list[str | None], algorithm: str, prefix: bytes) -> list[str | None]:
    new = getattr(hashlib, algorithm)
    return [None if v is None else new(prefix + v.encode()).hexdigest() for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(TEXT, max_size=30), st.sampled_from(["sha1", "sha256"]), st.binary(max_size=16))
def test_hex_digests_equal_hashlib(values: list[str | None], algorithm: str, prefix: bytes) -> None:
    got = kernels.hex_digests(pa.array(values, pa.string()), algorithm, prefix)
    assert got.type == pa.large_string()
    assert got.to_pylist() == _hashlib(values, algorithm, prefix)


def test_hex_digests_fall_back_to_hashlib(monkeypatch: pytest.MonkeyPatch) -> None:
    values = ["иван@почта.рф", None, "", "+79151234567"]

    def no_duckdb(**tables: pa.Table) -> None:
        raise duckdb.CatalogException("Scalar Function with name sha1 does not exist!")

    monkeypatch.setattr(kernels, "_duckdb", no_duckdb)
    got = kernels.hex_digests(pa.array(values), "sha1", b"\x00ns")
    assert got.to_pylist() == _hashlib(values, "sha1", b"\x00ns")


def test_digests_are_the_raw_bytes() -> None:
    values = [f"v{i}" for i in range(5)]
    raw = kernels.digests(pa.array(values), "sha256")
    assert raw.shape == (5, 32) and raw.dtype == np.uint8
    assert [bytes(r) for r in raw] == [hashlib.sha256(v.encode()).digest() for v in values]
    with pytest.raises(ValueError, match="null"):
        kernels.digests(pa.array(["a", None]))
    with pytest.raises(ValueError, match="algorithm"):
        kernels.hex_digests(pa.array(["a"]), "md5")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(max_size=6), unique=True, max_size=20),
    st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=30),
)
def test_joined_rows_find_each_key(keys: list[str], lookup: list[str | None]) -> None:
    got = kernels.joined_rows(
        pa.array(keys, pa.large_string()), pa.chunked_array([pa.array(lookup, pa.large_string())])
    )
    position = {k: i for i, k in enumerate(keys)}
    assert got.tolist() == [-1 if v is None else position.get(v, -1) for v in lookup]


def test_joined_rows_over_many_streamed_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The matches arrive in batches (small ones here) on several threads; every lookup
    row gets its key's row, in either string type, unknown and null rows -1."""
    monkeypatch.setattr(kernels, "_BLOCK", 1_000)
    n = 200_000
    rng = np.random.default_rng(1)
    keys = pa.array([f"b_user:{i}" for i in rng.permutation(n)], pa.string())
    picks = rng.integers(0, n + n // 10, size=300_000)  # ~9% not a key
    lookup = pa.chunked_array(
        [pa.array([f"b_user:{i}" if i % 97 else None for i in picks], pa.string())]
    )
    got = kernels.joined_rows(keys, lookup)
    position = {k: i for i, k in enumerate(keys.to_pylist())}
    expected = [-1 if v is None else position.get(v, -1) for v in lookup.to_pylist()]
    assert got.tolist() == expected


def test_hex_digests_keep_row_order_on_large_chunked_input() -> None:
    """DuckDB scans big inputs on several threads; each digest must stay on its row."""
    n = 400_000
    chunks = [
        pa.array([f"v{i}" for i in range(lo, min(n, lo + 65_536))], pa.large_string())
        for lo in range(0, n, 65_536)
    ]
    rows = np.random.default_rng(0).choice(n, size=2_000, replace=False)
    for values in (pa.chunked_array(chunks), pa.chunked_array(chunks).combine_chunks()):
        got = kernels.hex_digests(values, "sha256")
        assert len(got) == n
        for row in [0, n - 1, *rows.tolist()]:
            assert got[row].as_py() == hashlib.sha256(f"v{row}".encode()).hexdigest()


def test_kernels_spill_to_the_system_temp_directory() -> None:
    with kernels._duckdb() as con:
        (setting,) = con.execute("select current_setting('temp_directory')").fetchone()
    assert setting == kernels._SPILL_DIRECTORY


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["email", "phone"]), TEXT), max_size=30),
    st.lists(st.tuples(st.sampled_from(["email", "phone"]), TEXT), max_size=30),
)
def test_rows_not_in_equals_pyarrow_anti_join(
    rows: list[tuple[str, str | None]], seen: list[tuple[str, str | None]]
) -> None:
    def table(pairs: list[tuple[str, str | None]]) -> pa.Table:
        kinds, values = zip(*pairs, strict=True) if pairs else ((), ())
        return pa.table(
            {
                "kind": pa.array(kinds, pa.large_string()),
                "value": pa.array(values, pa.large_string()),
            }
        )

    left, right = table(rows), table(seen)
    got = kernels.rows_not_in(left, right, ["kind", "value"])
    expected = left.join(right, keys=["kind", "value"], join_type="left anti")
    assert got.schema == left.schema
    assert sorted(got.to_pylist(), key=repr) == sorted(expected.to_pylist(), key=repr)
