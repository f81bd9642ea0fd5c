"""Staging `incremental` on PostgreSQL (var `bitrix_omni_staging_materialized`; the default
there is a view): the same SQL runs, an incremental run after source changes equals the views
on those changes.
Identity resolution runs on top: the second run resolves only the customers around the
changed records, and a whole-graph resolution after it finds nothing to change.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2
from dbt_cli import dbt, prod_target_env
from loader import load_csv_dir

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEMO_DIR = PROJECT_DIR / "data" / "demo"
DATABASE = "bitrix_omni_incremental"
SOURCE_SCHEMA = "bitrix"
STAGING_VIEWS = [
    "run",
    "--select",
    "path:models/staging",
    "--vars",
    "{bitrix_omni_staging_materialized: view}",
]
#: Staging and identity resolution up to the registry, scoped however much changed.
IDENTITY = [
    "build",
    "--select",
    "path:models/staging",
    "+int_identity__customer_registry",
    "--exclude-resource-type",
    "test",
    "--exclude-resource-type",
    "unit_test",
]
SHARE = (
    "{{bitrix_omni_staging_materialized: incremental,"
    " bitrix_omni_identity_scoped_resolution_max_share: {}}}"
)

# Changes made to the replicated tables between the two runs.
SOURCE_CHANGES = [
    # a hard delete
    'delete from bitrix.b_sale_order where "ID" = (select min("ID") from bitrix.b_sale_order)',
    "delete from bitrix.b_crm_field_multi"
    ' where "ID" = (select min("ID") from bitrix.b_crm_field_multi)',
    # edits in place, no change time
    """update bitrix.b_uts_user set "UF_UTM_SOURCE" = 'edited'
       where "VALUE_ID" = (select min("VALUE_ID") from bitrix.b_uts_user)""",
    """update bitrix.b_sale_order_props_value set "VALUE" = 'edited'
       where "ID" = (select min("ID") from bitrix.b_sale_order_props_value)""",
    # a newer replica duplicate of an order
    """insert into bitrix.b_sale_order
       select "ID", "ACCOUNT_NUMBER", "LID", "USER_ID", "PERSON_TYPE_ID", 'X', "DATE_INSERT",
              '2099-01-01 00:00:00', "DATE_STATUS", "PRICE", "PRICE_DELIVERY", "DISCOUNT_VALUE",
              "TAX_VALUE", "SUM_PAID", "CURRENCY", "PAYED", "DATE_PAYED", "CANCELED",
              "DATE_CANCELED", "REASON_CANCELED", "PAY_SYSTEM_ID", "DELIVERY_ID", "XML_ID",
              "STAT_GID", "BX_USER_ID", "EXTERNAL_ORDER"
       from bitrix.b_sale_order where "ID" = '5'""",
    # a key that no longer parses
    """update bitrix.b_user set "ID" = 'x' || "ID"
       where "ID" = (select min("ID") from bitrix.b_user)""",
]


def _query(params: dict, sql: str, parameters: tuple | None = None) -> list[tuple]:
    connection = psycopg2.connect(**params)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def _staged(params: dict, schema: str, table: str) -> str:
    """A query of the staged rows without `_staged_at` (when each run staged them)."""
    columns = _query(
        params,
        "select column_name from information_schema.columns where table_schema = %s"
        " and table_name = %s and column_name <> '_staged_at' order by ordinal_position",
        (schema, table),
    )
    return f"select {', '.join(name for (name,) in columns)} from {schema}.{table}"


def test_incremental_staging_on_postgres(pg_server, tmp_path):
    params = pg_server.create_database(DATABASE)
    load_csv_dir(params, DEMO_DIR, SOURCE_SCHEMA, upper_case=True)
    env = {**prod_target_env(params), "BITRIX_SOURCE_SCHEMA": SOURCE_SCHEMA}
    incremental = {
        **env,
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "BITRIX_OMNI_PG_SCHEMA": "incr",
        "DBT_TARGET_PATH": str(tmp_path / "target_incr"),
        "DBT_LOG_PATH": str(tmp_path / "logs_incr"),
    }
    first = dbt([*IDENTITY, "--vars", SHARE.format(1)], incremental)
    assert first.returncode == 0, (first.stdout + first.stderr)[-6000:]
    assert "identity resolution: the whole graph" in first.stdout
    for statement in SOURCE_CHANGES:
        _query(params, statement)
    second = dbt([*IDENTITY, "--vars", SHARE.format(1)], incremental)
    assert second.returncode == 0, (second.stdout + second.stderr)[-6000:]
    assert "the customers around" in second.stdout, second.stdout[-6000:]
    whole = dbt(
        ["run", "--select", "int_identity__customer_registry", "--vars", SHARE.format(0)],
        incremental,
    )
    assert whole.returncode == 0, (whole.stdout + whole.stderr)[-6000:]
    assert "identity resolution: the whole graph" in whole.stdout
    assert "; 0 registry rows written" in whole.stdout, whole.stdout[-6000:]
    compiled = (
        tmp_path / "target_incr/compiled/bitrix_omni/models/staging/bitrix/stg_bitrix__orders.sql"
    ).read_text()
    assert "changed_keys" in compiled

    reference_env = {
        **env,
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "BITRIX_OMNI_PG_SCHEMA": "ref",
        "DBT_TARGET_PATH": str(tmp_path / "target_ref"),
        "DBT_LOG_PATH": str(tmp_path / "logs_ref"),
    }
    views = dbt(STAGING_VIEWS, reference_env)
    assert views.returncode == 0, (views.stdout + views.stderr)[-6000:]

    tables = _query(
        params,
        "select table_name, table_type from information_schema.tables"
        " where table_schema = 'incr_staging' and table_name <> 'stg_bitrix__deleted_keys'"
        " order by 1",
    )
    assert len(tables) == 22 and {kind for _, kind in tables} == {"BASE TABLE"}
    reference = _query(
        params,
        "select distinct table_type from information_schema.tables"
        " where table_schema = 'ref_staging' and table_name <> 'stg_bitrix__deleted_keys'",
    )
    assert reference == [("VIEW",)]
    mismatches, reference_rows = [], 0
    for table, _ in tables:
        a, b = _staged(params, "incr_staging", table), _staged(params, "ref_staging", table)
        differing = _query(
            params,
            f"select (select count(*) from ({a} except all {b}) d),"
            f" (select count(*) from ({b} except all {a}) d),"
            f" (select count(*) from ref_staging.{table})",
        )[0]
        if differing[:2] != (0, 0):
            mismatches.append((table, differing))
        reference_rows += differing[2]
    assert mismatches == []
    assert reference_rows > 1000

    # upgrading from views: the default materialization replaces them by the same rows
    upgraded = dbt(["run", "--select", "path:models/staging"], reference_env)
    assert upgraded.returncode == 0, (upgraded.stdout + upgraded.stderr)[-6000:]
    kinds = _query(
        params,
        "select distinct table_type from information_schema.tables"
        " where table_schema = 'ref_staging' and table_name <> 'stg_bitrix__deleted_keys'",
    )
    assert kinds == [("BASE TABLE",)]
    for table, _ in tables:
        a, b = _staged(params, "incr_staging", table), _staged(params, "ref_staging", table)
        assert _query(
            params, f"select count(*) from (({a} except all {b}) union all ({b} except all {a})) d"
        ) == [(0,)], table
    assert _query(
        params, "select status_id from incr_staging.stg_bitrix__orders where order_id = 5"
    ) == [("X",)]


def test_staging_with_a_load_time_column_on_postgres(pg_server, tmp_path):
    """A typed load-time column (timestamptz, as replication tools write it): the second run
    compares only the rows loaded since the mark (less the lookback), deletes and new rows
    are staged, a silent edit waits for a run without the var, after which staging equals
    the views on the same tables."""
    params = pg_server.create_database("bitrix_omni_loaded_at")
    load_csv_dir(params, DEMO_DIR, SOURCE_SCHEMA, upper_case=True)
    _query(
        params,
        "alter table bitrix.b_sale_order add column _fivetran_synced timestamptz;"
        " update bitrix.b_sale_order set _fivetran_synced = '2023-01-01 00:00:00+00';"
        " update bitrix.b_sale_order set _fivetran_synced = '2024-01-01 00:00:00+00'"
        ' where "ID" = (select max("ID") from bitrix.b_sale_order)',
    )
    base = {
        **prod_target_env(params),
        "BITRIX_SOURCE_SCHEMA": SOURCE_SCHEMA,
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
    }
    loaded_env = {
        **base,
        "BITRIX_OMNI_PG_SCHEMA": "loaded",
        "DBT_TARGET_PATH": str(tmp_path / "target_loaded"),
        "DBT_LOG_PATH": str(tmp_path / "logs_loaded"),
    }
    staging = ["run", "--select", "path:models/staging"]
    with_var = [*staging, "--vars", "{bitrix_omni_loaded_at_column: _FIVETRAN_SYNCED}"]
    first = dbt(with_var, loaded_env)
    assert first.returncode == 0, (first.stdout + first.stderr)[-6000:]
    assert _query(params, "select model_name from loaded.bitrix_omni_source_marks") == [
        ("stg_bitrix__orders",)
    ]
    ids = [row[0] for row in _query(params, 'select "ID" from bitrix.b_sale_order order by 1')]
    reloaded, silent, deleted = ids[0], ids[1], ids[2]
    _query(
        params,
        f"""update bitrix.b_sale_order set "STATUS_ID" = 'R', _fivetran_synced = now()
            where "ID" = '{reloaded}';
            update bitrix.b_sale_order set "STATUS_ID" = 'S' where "ID" = '{silent}';
            delete from bitrix.b_sale_order where "ID" = '{deleted}';""",
    )
    second = dbt(with_var, loaded_env)
    assert second.returncode == 0, (second.stdout + second.stderr)[-6000:]
    compiled = (
        tmp_path / "target_loaded/compiled/bitrix_omni/models/staging/bitrix/stg_bitrix__orders.sql"
    ).read_text()
    assert "recent as (" in compiled and '"_fivetran_synced" >= \'2023-12-31 ' in compiled

    def status(order_id: str) -> list[tuple]:
        return _query(
            params,
            f"select status_id from loaded_staging.stg_bitrix__orders where order_id = {order_id}",
        )

    assert status(reloaded) == [("R",)]
    assert status(deleted) == []
    assert status(silent) not in ([("S",)], [])

    nightly = dbt(staging, loaded_env)
    assert nightly.returncode == 0, (nightly.stdout + nightly.stderr)[-6000:]
    assert status(silent) == [("S",)]
    reference_env = {
        **base,
        "BITRIX_OMNI_PG_SCHEMA": "loaded_ref",
        "DBT_TARGET_PATH": str(tmp_path / "target_loaded_ref"),
        "DBT_LOG_PATH": str(tmp_path / "logs_loaded_ref"),
    }
    views = dbt(STAGING_VIEWS, reference_env)
    assert views.returncode == 0, (views.stdout + views.stderr)[-6000:]
    for table in ("stg_bitrix__orders", "stg_bitrix__users", "stg_bitrix__basket_items"):
        a = _staged(params, "loaded_staging", table)
        b = _staged(params, "loaded_ref_staging", table)
        assert _query(
            params, f"select count(*) from (({a} except all {b}) union all ({b} except all {a})) d"
        ) == [(0,)], table
