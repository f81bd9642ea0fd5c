"""Tests of bitrix_omni.pipeline: the functions the dbt Python models call."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitrix_omni import pipeline
from bitrix_omni.frames import to_arrow
from bitrix_omni.identity import IdentityConfig, guard_identifiers, resolve_identities
from bitrix_omni.normalize import (
    hash_identifier,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone,
)

RAW_VALUES = [
    "Ivan@Mail.ru",
    " ivan@mail.ru ",
    "noemail@mail.ru",
    "иван@почта.рф",
    "8 (915) 123-45-67",
    "+375 29 123-45-67",
    "+7 000 000 00 00",
    "not a phone",
    "",
    None,
]


def _identifiers(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(key, kind, value, f"test.{kind.upper()}") for key, kind, value in rows],
        columns=["record_key", "identifier_kind", "value_raw", "evidence"],
    )


def _reference(frame: pd.DataFrame, region: str) -> pd.DataFrame:
    """The scalar functions row by row: what normalize_identifiers must return."""
    out = []
    for key, kind, raw, evidence in frame.itertuples(index=False):
        value = normalize_email(raw) if kind == "email" else normalize_phone(raw, region)
        out.append(
            (
                key,
                kind,
                evidence,
                value,
                None if value is None else hash_identifier(kind, value),
                None
                if value is None
                else (mask_email(value) if kind == "email" else mask_phone(value, region)),
                value is not None,
            )
        )
    return pd.DataFrame(out, columns=list(pipeline.NORMALIZED_IDENTIFIER_COLUMNS))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["b_user:1", "b_user:2", "b_crm_lead:3"]),
            st.sampled_from(["email", "phone"]),
            st.sampled_from(RAW_VALUES),
        ),
        max_size=15,
    ),
    st.sampled_from(["RU", "BY"]),
)
def test_normalize_identifiers_equals_scalar_functions(
    rows: list[tuple[str, str, str | None]], region: str
) -> None:
    frame = _identifiers(rows)
    got = pipeline.normalize_identifiers(frame, region).to_pandas()
    expected = _reference(frame, region)
    assert list(got.columns) == list(pipeline.NORMALIZED_IDENTIFIER_COLUMNS)
    assert got["is_valid"].dtype == bool
    for column in got.columns:
        assert _plain(got[column]) == _plain(expected[column]), column
    encoded = pipeline.normalize_identifiers(frame, region, dictionary=True)
    shared = [encoded[c].combine_chunks() for c in ENCODED_COLUMNS]
    for column, arr in zip(ENCODED_COLUMNS, shared, strict=True):
        assert isinstance(arr, pa.DictionaryArray)
        assert arr.indices.equals(shared[0].indices)
        assert _plain(arr.dictionary_decode().to_pandas()) == _plain(expected[column]), column
    assert encoded["is_valid"].to_pylist() == expected["is_valid"].tolist()


ENCODED_COLUMNS = ("identifier_value", "identifier_hash", "identifier_masked")


def _plain(column: pd.Series) -> list[object]:
    """Values with every missing marker (None, NaN) as None."""
    return [None if v is None or v != v else v for v in column.tolist()]


def test_normalize_identifiers_empty() -> None:
    for dictionary in (False, True):
        got = pipeline.normalize_identifiers(_identifiers([]), dictionary=dictionary).to_pandas()
        assert got.empty
        assert list(got.columns) == list(pipeline.NORMALIZED_IDENTIFIER_COLUMNS)


def _world() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    keys = [f"b_user:{i}" for i in range(8)] + [f"b_sale_order:{i}" for i in range(8)]
    records = pd.DataFrame(
        {
            "record_key": keys,
            "source_table": [k.split(":")[0] for k in keys],
            "source_id": [int(k.split(":")[1]) for k in keys],
            "first_seen_at": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(np.arange(len(keys)), unit="h"),
            "last_seen_at": pd.to_datetime("2024-02-01"),
        }
    )
    rows = [(f"b_user:{i}", "phone", "8 (915) 123-45-67") for i in range(7)]  # over-shared
    rows += [(f"b_sale_order:{i}", "email", f"Buyer{i % 3}@mail.ru") for i in range(8)]
    rows += [("b_user:0", "email", "junk@mail.ru"), ("b_user:1", "email", "junk@mail.ru")]
    identifiers = pipeline.normalize_identifiers(_identifiers(rows)).to_pandas()
    links = pd.DataFrame(
        {
            "record_key": [f"b_sale_order:{i}" for i in range(8)],
            "other_record_key": [f"b_user:{i}" for i in range(8)],
            "evidence": "b_sale_order.USER_ID",
        }
    )
    return records, identifiers, links


def test_guarded_identifiers_equals_resolution_guarded() -> None:
    records, identifiers, links = _world()
    blocklist = frozenset({"junk@mail.ru"})
    guarded = pipeline.guarded_identifiers(identifiers, links, records, blocklist, 5)
    result = pipeline.resolve(records, identifiers, links, blocklist, 5)
    expected = result.guarded.rename(columns={"kind": "identifier_kind"})
    pd.testing.assert_frame_equal(guarded, expected)
    assert set(guarded["reason"]) == {"blocklisted", "over_shared"}


def test_resolve_skips_evidence_but_keeps_everything_else() -> None:
    records, identifiers, links = _world()
    result = pipeline.resolve(records, identifiers, links, frozenset(), 5)
    assert result.evidence.empty
    valid = identifiers[identifiers["is_valid"]]
    full = resolve_identities(
        records[["record_key", "source_table", "source_id", "first_seen_at"]],
        pd.DataFrame(
            {
                "record_key": valid["record_key"],
                "kind": valid["identifier_kind"],
                "value": valid["identifier_value"],
                "evidence": valid["evidence"],
            }
        ),
        links,
        config=IdentityConfig(max_customers_per_identifier=5),
    )
    assert not full.evidence.empty
    pd.testing.assert_frame_equal(result.identity_map, full.identity_map)
    pd.testing.assert_frame_equal(
        result.guarded,
        guard_identifiers(
            records,
            valid.rename(columns={"identifier_kind": "kind", "identifier_value": "value"}),
            links,
            IdentityConfig(max_customers_per_identifier=5),
        ),
    )


def test_normalize_new_values_skips_cached_pairs() -> None:
    raw = pd.DataFrame(
        {
            "identifier_kind": ["email", "email", "phone", "phone", "email"],
            "value_raw": ["Ivan@Mail.ru", "bad", "8 (915) 123-45-67", "Ivan@Mail.ru", "new@x.ru"],
        }
    )
    first = pipeline.normalize_new_values(raw).to_pandas()
    assert list(first.columns) == list(pipeline.NORMALIZED_VALUE_COLUMNS)
    assert _plain(first["identifier_value"]) == [
        "ivan@mail.ru",
        None,
        "+79151234567",
        None,  # an e-mail in a phone field is not a phone
        "new@x.ru",
    ]
    assert first["is_valid"].tolist() == [True, False, True, False, True]
    assert first["identifier_hash"][0] == hash_identifier("email", "ivan@mail.ru")
    assert first["identifier_masked"][2] == mask_phone("+79151234567")
    assert set(first["normalizer"]) == {pipeline.normalizer_fingerprint("RU")}
    stamped = pipeline.normalize_new_values(
        raw, normalized_at=dt.datetime(2026, 1, 2, 6, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    ).to_pandas()
    assert set(stamped["normalized_at"]) == {pd.Timestamp("2026-01-02 03:30")}

    cached = raw.iloc[:4]
    again = pipeline.normalize_new_values(raw, cached).to_pandas()
    assert again["value_raw"].tolist() == ["new@x.ru"]
    assert pipeline.normalize_new_values(raw, raw).num_rows == 0
    # Same schema when nothing is new (an empty incremental batch).
    assert (
        pipeline.normalize_new_values(raw, raw).schema == pipeline.normalize_new_values(raw).schema
    )


def test_normalizer_fingerprint_names_what_normalization_depends_on() -> None:
    fingerprint = pipeline.normalizer_fingerprint("by")
    assert "region BY" in fingerprint
    assert "phonenumbers " in fingerprint
    assert fingerprint != pipeline.normalizer_fingerprint("RU")


@pytest.mark.parametrize("empty", [True, False])
def test_normalized_blocklist(empty: bool) -> None:
    seed = pd.DataFrame(
        {
            "identifier_kind": [] if empty else [" Email", "PHONE", "phone"],
            "identifier_value": [] if empty else ["JUNK@mail.ru", "8 (900) 000-00-01", "x"],
        }
    )
    expected = frozenset() if empty else frozenset({"junk@mail.ru", "+79000000001"})
    assert pipeline.normalized_blocklist(seed) == expected


def _registry(records, identifiers, links, previous=None, at="2024-06-01 12:00"):  # type: ignore[no-untyped-def]
    prev_map = None
    if previous is not None:
        prev_map = previous.filter(previous["is_current"]).select(["record_key", "customer_uuid"])
    result = pipeline.resolve(records, identifiers, links, frozenset(), 5, prev_map)
    return pipeline.registry_frame(result, records, previous, pd.Timestamp(at, tz="UTC"))


def _apply(stored, written):  # type: ignore[no-untyped-def]
    """delete+insert on record_key, as the incremental model does."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kept = stored.filter(pc.invert(pc.is_in(stored["record_key"], value_set=written["record_key"])))
    return pa.concat_tables([kept, written])


def test_registry_writes_only_changed_rows() -> None:
    records, identifiers, links = _world()
    first = _registry(records, identifiers, links)
    assert first.num_rows == len(records) and all(first["is_current"].to_pylist())
    assert first["previous_customer_uuid"].null_count == first.num_rows

    # Nothing changed: nothing written.
    assert _registry(records, identifiers, links, first, "2024-06-01 13:00").num_rows == 0

    # A new order with Buyer0's e-mail joins that customer: the uuid stays, but the
    # customer's rows change (component_size), so exactly those rows are written.
    new = pd.DataFrame(
        {
            "record_key": ["b_sale_order:100"],
            "source_table": ["b_sale_order"],
            "source_id": [100],
            "first_seen_at": [pd.Timestamp("2024-03-01")],
            "last_seen_at": [pd.Timestamp("2024-03-01")],
        }
    )
    records2 = pd.concat([records, new], ignore_index=True).sort_values("record_key")
    identifiers2 = pd.concat(
        [
            identifiers,
            pipeline.normalize_identifiers(
                _identifiers([("b_sale_order:100", "email", "buyer0@mail.ru")])
            ).to_pandas(),
        ],
        ignore_index=True,
    )
    second = _registry(records2, identifiers2, links, first, "2024-06-01 14:00")
    written = set(second["record_key"].to_pylist())
    assert "b_sale_order:100" in written
    stored = _apply(first, second)
    by_key = {r["record_key"]: r for r in stored.to_pylist()}
    buyer0 = {
        k
        for k, r in by_key.items()
        if r["customer_uuid"] == by_key["b_sale_order:0"]["customer_uuid"]
    }
    # Written: the new record and the rows of its customer (component_size grew).
    assert written == buyer0
    assert by_key["b_sale_order:100"]["previous_customer_uuid"] is None

    # A record deleted in Bitrix: written once with is_current = false, then left alone.
    records3 = records2[records2["record_key"] != "b_user:7"]
    identifiers3 = identifiers2[identifiers2["record_key"] != "b_user:7"]
    links3 = links[links["other_record_key"] != "b_user:7"]
    third = _registry(records3, identifiers3, links3, stored, "2024-06-01 15:00")
    gone = [r for r in third.to_pylist() if r["record_key"] == "b_user:7"]
    assert len(gone) == 1 and gone[0]["is_current"] is False
    stored = _apply(stored, third)
    fourth = _registry(records3, identifiers3, links3, stored, "2024-06-01 16:00")
    assert fourth.num_rows == 0
    assert stored.num_rows == len(records2)


def test_to_arrow_reads_only_the_columns_asked_for() -> None:
    """A DuckDB relation (what dbt-duckdb hands a Python model) is projected before it is
    read; Arrow and pandas frames give the same table."""
    table = pa.table({"a": [1, 2], "b": ["x", "y"], "c": [True, False]})
    connection = duckdb.connect()
    relation = connection.from_arrow(table)
    for frame in (relation, table, table.to_pandas()):
        assert to_arrow(frame, ["c", "a"]).to_pydict() == {"c": [True, False], "a": [1, 2]}
        assert to_arrow(frame).column_names == ["a", "b", "c"]
    projected = connection.sql('select 1 as "odd ""name""", 2 as b')
    assert to_arrow(projected, ['odd "name"']).to_pydict() == {'odd "name"': [1]}
    with pytest.raises(duckdb.BinderException):
        to_arrow(relation, ["missing"])
