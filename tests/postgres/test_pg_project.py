"""The bitrix-omni project on PostgreSQL (adapter bitrix_postgres), and parity with DuckDB.

The bundled demo export (data/demo) is loaded as text columns into two source schemas on
the session's server: one with lower-case column names, one with quoted upper-case names
(as replicated from MySQL). `dbt build --target prod` (the project's own profiles.yml,
credentials through env vars) runs on each; then the same data is built on DuckDB and every
mart and staging table is compared row by row.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import psycopg2
import pytest
from dbt_cli import dbt, prod_target_env, start
from loader import load_csv_dir

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEMO_DIR = PROJECT_DIR / "data" / "demo"
PARTIAL_CACHE_DBT = Path(__file__).resolve().with_name("partial_cache_dbt.py")
DATABASE = "bitrix_omni_test"
VARIANTS = {"upper": "bitrix_upper", "lower": "bitrix_lower"}  # variant -> source schema

# Columns written with the wall-clock time of the run differ between any two builds: these,
# and any column whose values are all timestamps of today (the demo data is of 2024).
RUN_TIME_COLUMNS = {
    "resolved_at",
    "matched_at",
    "normalized_at",
    "_staged_at",
    "_changed_at",
    "_normalized_through",
    "logged_at",
}
# Columns whose values are engine-specific by design (a row hash: DuckDB hash() vs PostgreSQL
# hashtextextended(), and sums of such hashes); their names are compared, their values are not.
ENGINE_SPECIFIC_COLUMNS = {"_source_row_hash", "_input_fingerprint"}

# (staging model, raw table): staging keeps one row per distinct parseable ID
STAGING_KEYS = [
    ("stg_bitrix__users", "b_user"),
    ("stg_bitrix__sale_fusers", "b_sale_fuser"),
    ("stg_bitrix__orders", "b_sale_order"),
    ("stg_bitrix__crm_contacts", "b_crm_contact"),
    ("stg_bitrix__crm_leads", "b_crm_lead"),
    ("stg_bitrix__crm_deals", "b_crm_deal"),
    ("stg_bitrix__crm_activities", "b_crm_act"),
    ("stg_bitrix__crm_communications", "b_crm_field_multi"),
]


@pytest.fixture(scope="module")
def pg_db(pg_server) -> dict:
    params = pg_server.create_database(DATABASE)
    for variant, schema in VARIANTS.items():
        load_csv_dir(params, DEMO_DIR, schema, upper_case=variant == "upper")
    return params


def test_unit_test_names_fit_postgres_identifiers(tmp_path):
    """dbt-postgres names a unit test's relations after it: names must fit 63 bytes."""
    listed = dbt(
        ["ls", "--resource-type", "unit_test", "--output", "name", "-q"],
        {"DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs")},
    )
    assert listed.returncode == 0, (listed.stdout + listed.stderr)[-4000:]
    names = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
    assert names
    assert [name for name in names if len(name.encode()) > 63] == []


def _project_env(pg_db: dict, target_schema: str, source_schema: str, work: Path) -> dict:
    """The environment of a `dbt` run of the project's own profiles.yml, target prod: the
    server's database, the target and source schemas, dbt's target and logs in ``work``."""
    return {
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        **prod_target_env(pg_db),
        "BITRIX_OMNI_PG_SCHEMA": target_schema,
        "BITRIX_SOURCE_SCHEMA": source_schema,
        "DBT_TARGET_PATH": str(work / target_schema / "target"),
        "DBT_LOG_PATH": str(work / target_schema / "logs"),
    }


@pytest.fixture(scope="module")
def builds(pg_db, tmp_path_factory) -> dict:
    """dbt build on PostgreSQL (both variants) and on DuckDB, run side by side.

    Returns {"upper": pg schema, "lower": pg schema, "duckdb": path of the DuckDB file}.
    """
    work = tmp_path_factory.mktemp("builds")
    runs: dict[str, tuple[subprocess.Popen, Path]] = {}
    result: dict = {"envs": {}}
    for variant, source_schema in VARIANTS.items():
        target_schema = f"analytics_{variant}"
        env = _project_env(pg_db, target_schema, source_schema, work)
        log = work / f"{variant}.out"
        runs[variant] = (start(["build"], env, log), log)
        result[variant] = target_schema
        result["envs"][variant] = env
    database = work / "warehouse.duckdb"
    duck_env = {
        "BITRIX_DATA_DIR": str(DEMO_DIR),
        "BITRIX_OMNI_DUCKDB_PATH": str(database),
        "BITRIX_OMNI_TARGET": "dev",
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(work / "target_duckdb"),
        "DBT_LOG_PATH": str(work / "logs_duckdb"),
    }
    runs["duckdb"] = (start(["build"], duck_env, work / "duckdb.out"), work / "duckdb.out")
    result["duckdb"] = database

    failures = []
    for name, (process, log) in runs.items():
        returncode = process.wait(timeout=900)
        output = log.read_text()
        if returncode != 0:
            failures.append(f"--- dbt build ({name}) failed:\n{output[-6000:]}")
        assert pg_db["password"] not in output, f"password in the {name} build output"
    assert not failures, "\n".join(failures)
    return result


@pytest.fixture(scope="module")
def pg_builds(builds) -> dict[str, str]:
    return {variant: builds[variant] for variant in VARIANTS}


@pytest.fixture(scope="module")
def duckdb_build(builds) -> Path:
    return builds["duckdb"]


def _pg_query(params: dict, sql: str) -> tuple[list[str], list[tuple]]:
    connection = psycopg2.connect(**params)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [c.name for c in cursor.description], cursor.fetchall()
    finally:
        connection.close()


def _pg_scalar(params: dict, sql: str):
    return _pg_query(params, sql)[1][0][0]


def _pg_relations(params: dict, schema: str) -> list[str]:
    _, rows = _pg_query(
        params,
        f"select table_name from information_schema.tables where table_schema = '{schema}'",
    )
    return sorted(r[0] for r in rows)


# --- the project on PostgreSQL ------------------------------------------------------------


def _assert_one_staged_row_per_raw_id(pg_db, schema: str, variant: str) -> None:
    column = '"ID"' if variant == "upper" else '"id"'
    for model, raw_table in STAGING_KEYS:
        distinct_ids = _pg_scalar(
            pg_db,
            f"select count(distinct trim({column})) from {VARIANTS[variant]}.{raw_table} "
            f"where trim({column}) ~ '^[0-9]+$' and trim({column}) !~ '^0+$'",
        )
        staged = _pg_scalar(pg_db, f"select count(*) from {schema}_staging.{model}")
        assert staged == distinct_ids > 0, (model, staged, distinct_ids)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_staging_has_one_row_per_raw_id(pg_db, pg_builds, variant):
    _assert_one_staged_row_per_raw_id(pg_db, pg_builds[variant], variant)


def test_raw_tables_are_found_while_dbt_caches_their_schema(pg_db, tmp_path):
    """A raw table is looked up in the catalog, not in dbt's relation cache, which can
    list part of the replicated schema while another thread fills it: the staging models
    then read every raw table even with the cache's answer reduced to one table."""
    env = _project_env(pg_db, "analytics_partial_cache", VARIANTS["lower"], tmp_path)
    run = dbt(["run", "--select", "staging"], env, program=[sys.executable, str(PARTIAL_CACHE_DBT)])
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "not found in schema" not in output
    _assert_one_staged_row_per_raw_id(pg_db, "analytics_partial_cache", "lower")


def _pg_execute(params: dict, *statements: str) -> None:
    connection = psycopg2.connect(**params)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def test_a_raw_table_name_matches_case_insensitively_when_unique(pg_db, tmp_path):
    """A replica that names a table in another case is read; two tables whose names differ
    only in case are an error that names them."""
    source = "bitrix_mixed_case"
    _pg_execute(
        pg_db,
        f"drop schema if exists {source} cascade",
        f"create schema {source}",
        f'create table {source}."B_Crm_Field_Multi" as'
        f" select * from {VARIANTS['lower']}.b_crm_field_multi",
    )
    env = _project_env(pg_db, "analytics_mixed_case", source, tmp_path)
    selected = ["run", "--select", "stg_bitrix__crm_communications", "stg_bitrix__deleted_keys"]
    run = dbt(selected, env)
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    staged = _pg_scalar(
        pg_db, "select count(*) from analytics_mixed_case_staging.stg_bitrix__crm_communications"
    )
    assert staged == _pg_scalar(pg_db, f'select count(*) from {source}."B_Crm_Field_Multi"') > 0

    _pg_execute(
        pg_db,
        f"create table {source}.b_crm_field_multi_ as select 1 as id",
        f'create view {source}."B_CRM_FIELD_MULTI" as select * from {source}."B_Crm_Field_Multi"',
    )
    ambiguous = dbt(selected, env)
    output = ambiguous.stdout + ambiguous.stderr
    assert ambiguous.returncode != 0
    assert f"schema {source} holds 2 relations named b_crm_field_multi" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_identity_on_postgres(pg_db, pg_builds, variant):
    schema = pg_builds[variant]
    records = _pg_scalar(pg_db, f"select count(*) from {schema}_intermediate.int_identity__records")
    assert records > 1000
    registry = f"{schema}_intermediate.int_identity__customer_registry"
    identity_map = f"{schema}.bl_customer_identity_map"
    # the Python models ran and wrote real tables
    for model in (
        "int_identity__normalized_identifiers",
        "int_identity__guarded_identifiers",
        "int_identity__customer_registry",
    ):
        kind = _pg_scalar(
            pg_db,
            "select table_type from information_schema.tables "
            f"where table_schema = '{schema}_intermediate' and table_name = '{model}'",
        )
        assert kind == "BASE TABLE", model
    assert _pg_scalar(pg_db, f"select count(*) from {registry}") == records
    assert _pg_scalar(pg_db, f"select count(distinct record_key) from {registry}") == records
    assert _pg_scalar(pg_db, f"select count(*) from {registry} where customer_uuid is null") == 0
    # the identity map: one row per record
    assert _pg_scalar(pg_db, f"select count(*) from {identity_map}") == _pg_scalar(
        pg_db, f"select count(distinct record_key) from {identity_map}"
    )
    # staging is incremental (tables, tombstones gone) on PostgreSQL too, nothing left
    # behind by the Python materializations
    kinds = _pg_query(
        pg_db,
        "select distinct table_type from information_schema.tables "
        f"where table_schema = '{schema}_staging'",
    )[1]
    assert kinds == [("BASE TABLE",)]
    tombstones = _pg_scalar(
        pg_db,
        f"select count(*) from {schema}_staging.stg_bitrix__orders where _source_row_hash is null",
    )
    assert tombstones == 0
    leftovers = _pg_query(
        pg_db,
        "select table_name from information_schema.tables "
        f"where table_schema like '{schema}%' and table_name like '%\\_\\_dbt\\_%'",
    )[1]
    assert leftovers == []


def test_variants_agree(pg_db, pg_builds):
    """Upper- and lower-case replicas give the same customers."""
    sql = "select record_key, customer_uuid from {}.bl_customer_identity_map order by 1"
    upper = _pg_query(pg_db, sql.format(pg_builds["upper"]))[1]
    lower = _pg_query(pg_db, sql.format(pg_builds["lower"]))[1]
    assert upper == lower and upper


# --- parity with DuckDB -------------------------------------------------------------------


def _normalize(value):
    """A comparable form: numbers rounded, times as naive UTC ISO, JSON canonical."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        number = float(value)
        return None if math.isnan(number) else round(number, 6)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False)
        except ValueError:
            return value
    if hasattr(value, "hex") and isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)


def _is_run_time(values: list) -> bool:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, dt.datetime)
        and abs((v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo else v) - now)
        < dt.timedelta(days=2)
        for v in present
    )


def _normalized_rows(columns: list[str], rows: list[tuple]) -> list[tuple]:
    keep = [
        i
        for i, name in enumerate(columns)
        if name not in RUN_TIME_COLUMNS | ENGINE_SPECIFIC_COLUMNS
        and not _is_run_time([row[i] for row in rows])
    ]
    normalized = [tuple(_normalize(row[i]) for i in keep) for row in rows]
    return sorted(normalized, key=lambda row: tuple((v is None, str(v)) for v in row))


def _compare(pg_db, pg_schema: str, duck: duckdb.DuckDBPyConnection, duck_schema: str):
    duck_tables = [
        r[0]
        for r in duck.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [duck_schema],
        ).fetchall()
    ]
    assert duck_tables, duck_schema
    assert _pg_relations(pg_db, pg_schema) == duck_tables
    mismatches = []
    for table in duck_tables:
        cursor = duck.execute(f'select * from "{duck_schema}"."{table}"')
        duck_columns = [d[0] for d in cursor.description]
        duck_rows = cursor.fetchall()
        pg_columns, pg_rows = _pg_query(pg_db, f'select * from "{pg_schema}"."{table}"')
        assert pg_columns == duck_columns, table
        if _normalized_rows(pg_columns, pg_rows) != _normalized_rows(duck_columns, duck_rows):
            mismatches.append(table)
    return mismatches


def test_parity_marts_and_staging(pg_db, pg_builds, duckdb_build):
    schema = pg_builds["upper"]
    with duckdb.connect(str(duckdb_build), read_only=True) as duck:
        mismatches = _compare(pg_db, schema, duck, "main")
        mismatches += _compare(pg_db, f"{schema}_staging", duck, "main_staging")
        duck_uuids = duck.execute(
            "select record_key, customer_uuid from main.bl_customer_identity_map order by 1"
        ).fetchall()
    pg_uuids = _pg_query(
        pg_db, f"select record_key, customer_uuid from {schema}.bl_customer_identity_map order by 1"
    )[1]
    assert [(k, str(u)) for k, u in pg_uuids] == [(k, str(u)) for k, u in duck_uuids]
    assert mismatches == []


def test_second_build_writes_only_changes_on_postgres(pg_db, builds, tmp_path):
    """A second build on the same data: the incremental models find nothing new (the
    registry writes no row, the normalization cache no value, the key-scoped models no
    changed fingerprint, the record-scoped ones no changed row, the guards no changed
    record), and the tables stay equal."""
    schema = builds["lower"]
    figures = {
        "registry": f"select count(*), max(resolved_at) from {schema}_intermediate"
        ".int_identity__customer_registry",
        "cache": f"select count(*) from {schema}_intermediate.int_identity__normalized_values",
        "ledger": f"select count(*) from {schema}.bl_customer_merge_ledger",
        "stats": f"select * from {schema}.bl_omni_stats order by hour_at, channel",
        "profile": f"select * from {schema}.bl_customer_profile order by customer_uuid",
        "journeys": f"select * from {schema}.bl_customer_journeys order by touchpoint_id",
        "attribution": f"select * from {schema}.bl_order_attribution"
        " order by order_id, attribution_model, touchpoint_id",
        "identity_map": f"select * from {schema}.bl_customer_identity_map order by record_key",
        "channels": f"select * from {schema}_intermediate.int_journeys__customer_channels"
        " order by customer_uuid",
        "touchpoints": f"select * from {schema}_intermediate.int_journeys__touchpoints"
        " order by touchpoint_id",
        # incremental by row hash: a run with nothing new writes and deletes no row
        "record_touchpoints": "select count(*), count(distinct _row_hash), max(_built_at)"
        f" from {schema}_intermediate.int_journeys__record_touchpoints",
        # the record-scoped models (without the stamps of when a run wrote the rows: each
        # run re-stages the keys with replica duplicates, and rebuilds their records)
        "normalized": "select record_key, identifier_kind, evidence, identifier_value,"
        " identifier_hash, identifier_masked, is_valid, normalized_at, _source_row_hash"
        f" from {schema}_intermediate.int_identity__normalized_identifiers"
        " order by record_key, identifier_kind, evidence, _source_row_hash",
        "usable": "select record_key, customer_uuid, identifier_kind, identifier_value,"
        " identifier_hash, identifier_masked, evidence, last_seen_at, resolved_at"
        f" from {schema}_intermediate.int_identity__usable_identifiers"
        " order by record_key, identifier_kind, identifier_hash, evidence",
        "guards": "select identifier_kind, identifier_hash, identifier_masked, reason,"
        " distinct_groups, records, _guard_config"
        f" from {schema}_intermediate.int_identity__guarded_identifiers order by 1, 2",
        "evidence": "select record_key, customer_uuid, edge_kind, evidence, identifier_hash,"
        " identifier_masked, linked_record_key, edge_status, resolved_at"
        f" from {schema}.bl_customer_identity_evidence order by record_key,"
        " edge_kind, evidence, identifier_hash, linked_record_key, edge_status",
    }
    before = {name: _pg_query(pg_db, sql)[1] for name, sql in figures.items()}
    env = {
        **builds["envs"]["lower"],
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    log = tmp_path / "second.out"
    returncode = start(["build"], env, log).wait(timeout=900)
    assert returncode == 0, log.read_text()[-6000:]
    after = {name: _pg_query(pg_db, sql)[1] for name, sql in figures.items()}
    assert after == before
    # the guards re-checked only their stored values (replaced through `replace_all`)
    assert "values re-checked around 0 changed records" in log.read_text()
    assert before["guards"]
    compiled = tmp_path / "target/compiled/bitrix_omni/models/marts/customers"
    assert "scope.scope_key" in (compiled / "bl_customer_profile.sql").read_text()
    assert (
        "int_identity__record_changes"
        in (compiled / "bl_customer_identity_evidence.sql").read_text()
    )
    # the first build's passing tests left marks, so the second reads only written rows
    assert _pg_query(pg_db, f"select count(*) from {schema}.bitrix_omni_test_marks")[1][0][0] > 0
    (unique_users,) = (tmp_path / "target/run").rglob("unique_stg_bitrix__users_user_id.sql")
    assert "_staged_at > cast(" in unique_users.read_text()
