"""dbt build on a hand-written, dirty Bitrix export that no generator produced."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(dbt_build_on, dirty_export, tmp_path_factory):
    return dbt_build_on(dirty_export, tmp_path_factory.mktemp("dirty"))


def test_missing_tables_are_empty_with_a_warning(built):
    assert "raw table b_crm_act not found" in built.output
    assert "raw table b_sender_posting_click not found" in built.output
    assert built.scalar("select count(*) from main_staging.stg_bitrix__crm_activities") == 0


def test_replica_duplicates_keep_the_latest_version(built):
    rows = built.query(
        "select login_name, email_raw from main_staging.stg_bitrix__users where user_id = 1"
    )
    assert rows == [("ivan", "Ivan.Petrov@Mail.RU")]


def test_rows_without_a_key_are_dropped(built):
    assert built.scalar("select count(*) from main_staging.stg_bitrix__users") == 5


def test_strings_are_trimmed_and_empty_is_null(built):
    rows = built.query(
        "select user_id, first_name, login_name from main_staging.stg_bitrix__users"
        " where user_id in (1, 5) order by user_id"
    )
    assert rows == [(1, "Иван", "ivan"), (5, 'Anna, "the" buyer', None)]


def test_local_time_becomes_utc_and_junk_dates_null(built):
    registered, updated = built.query(
        "select registered_at, updated_at from main_staging.stg_bitrix__users where user_id = 1"
    )[0]
    assert registered == datetime(2024, 3, 1, 7, 0)  # Europe/Moscow is UTC+3
    assert updated == datetime(2024, 3, 1, 9, 0)
    registered, updated = built.query(
        "select registered_at, updated_at from main_staging.stg_bitrix__users where user_id = 3"
    )[0]
    assert registered is None  # 2024-02-30 does not exist
    assert updated is None  # MySQL zero date


def test_flags_and_technical_users(built):
    rows = dict(
        built.query(
            "select user_id, is_technical from main_staging.stg_bitrix__users order by user_id"
        )
    )
    assert rows == {1: False, 2: True, 3: False, 4: True, 5: False}
    assert built.scalar("select is_active from main_staging.stg_bitrix__users where user_id = 3")
    assert (
        built.scalar("select is_active from main_staging.stg_bitrix__users where user_id = 5")
        is None
    )


def test_lower_case_headers_and_zero_references(built):
    rows = built.query(
        "select fuser_id, user_id from main_staging.stg_bitrix__sale_fusers order by fuser_id"
    )
    assert rows == [(10, 1), (11, None), (12, None)]


def test_money_and_cancellation(built):
    rows = built.query(
        "select order_id, order_total, currency, is_canceled, status_id"
        " from main_staging.stg_bitrix__orders order by order_id"
    )
    assert rows == [
        (100, Decimal("1500.5000"), "RUB", False, "F"),
        (101, Decimal("990.0000"), "RUB", True, "N"),
        (102, None, "RUB", False, "N"),
    ]


def test_declared_columns_missing_from_the_file_are_null(built):
    assert (
        built.scalar("select count(*) from main_staging.stg_bitrix__users where xml_id is not null")
        == 0
    )
