"""dbt's own adapter test suite (dbt-tests-adapter) against the bitrix_postgres plugin.

Every class runs a throwaway dbt project in its own schema on the session's real
PostgreSQL server (fixtures in conftest.py). SQL behaviour is dbt-postgres's; the Python
model classes prove the plugin's Python materializations.
"""

from __future__ import annotations

import pytest
from dbt.tests.adapter.basic.test_adapter_methods import BaseAdapterMethod
from dbt.tests.adapter.basic.test_base import BaseSimpleMaterializations
from dbt.tests.adapter.basic.test_empty import BaseEmpty
from dbt.tests.adapter.basic.test_ephemeral import BaseEphemeral
from dbt.tests.adapter.basic.test_generic_tests import BaseGenericTests
from dbt.tests.adapter.basic.test_incremental import BaseIncremental
from dbt.tests.adapter.basic.test_singular_tests import BaseSingularTests
from dbt.tests.adapter.basic.test_singular_tests_ephemeral import BaseSingularTestsEphemeral
from dbt.tests.adapter.basic.test_snapshot_check_cols import BaseSnapshotCheckCols
from dbt.tests.adapter.basic.test_snapshot_timestamp import BaseSnapshotTimestamp
from dbt.tests.adapter.basic.test_table_materialization import BaseTableMaterialization
from dbt.tests.adapter.basic.test_validate_connection import BaseValidateConnection
from dbt.tests.adapter.incremental.test_incremental_unique_id import BaseIncrementalUniqueKey
from dbt.tests.adapter.python_model import test_python_model as python_suite
from dbt.tests.adapter.python_model.test_python_model import (
    BasePythonEmptyTests,
    BasePythonIncrementalTests,
    BasePythonMetaGetTests,
    BasePythonModelTests,
)
from dbt.tests.util import run_dbt

# --- SQL: dbt-postgres through the plugin, unchanged -----------------------------------


class TestSimpleMaterializations(BaseSimpleMaterializations):
    pass


class TestSingularTests(BaseSingularTests):
    pass


class TestSingularTestsEphemeral(BaseSingularTestsEphemeral):
    pass


class TestEmpty(BaseEmpty):
    pass


class TestEphemeral(BaseEphemeral):
    pass


class TestIncremental(BaseIncremental):
    pass


class TestIncrementalUniqueKey(BaseIncrementalUniqueKey):
    pass


class TestGenericTests(BaseGenericTests):
    pass


class TestSnapshotCheckCols(BaseSnapshotCheckCols):
    pass


class TestSnapshotTimestamp(BaseSnapshotTimestamp):
    pass


class TestAdapterMethod(BaseAdapterMethod):
    pass


class TestTableMaterialization(BaseTableMaterialization):
    pass


class TestValidateConnection(BaseValidateConnection):
    pass


# --- Python models ------------------------------------------------------------------------
# The suite's models are written for Spark/Snowpark DataFrames (`df.limit(2)`,
# `df.filter(df.id > 5)`). Here dbt.ref() returns a pyarrow Table, so those two lines are
# replaced by their pyarrow equivalents; everything else (refs, versioned refs, sources,
# config, the assertions) is the suite's own.

BASIC_PYTHON = python_suite.basic_python.replace("df = df.limit(2)", "df = df.slice(0, 2)")

INCREMENTAL_PYTHON = """
import pyarrow.compute as pc


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key='id')
    df = dbt.ref("m_1")
    if dbt.is_incremental:
        # incremental runs should only apply to part of the data
        df = df.filter(pc.greater(df["id"], 5))
    return df
"""


class TestPythonModel(BasePythonModelTests):
    @pytest.fixture(scope="class")
    def models(self):
        return {
            "schema.yml": python_suite.schema_yml,
            "my_sql_model.sql": python_suite.basic_sql,
            "my_versioned_sql_model_v1.sql": python_suite.basic_sql,
            "my_python_model.py": BASIC_PYTHON,
            "second_sql_model.sql": python_suite.second_sql,
        }


class TestPythonIncrementalMerge(BasePythonIncrementalTests):
    @pytest.fixture(scope="class")
    def models(self):
        return {"m_1.sql": python_suite.m_1, "incremental.py": INCREMENTAL_PYTHON}


class TestPythonIncrementalDeleteInsert(TestPythonIncrementalMerge):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+incremental_strategy": "delete+insert"}}


class TestPythonIncrementalAppend(TestPythonIncrementalMerge):
    @pytest.fixture(scope="class")
    def project_config_update(self):
        return {"models": {"+incremental_strategy": "append"}}


class TestPythonMetaGet(BasePythonMetaGetTests):
    pass


class TestPythonEmpty(BasePythonEmptyTests):
    pass


# --- the plugin's own guarantees ----------------------------------------------------------

SWAP_PYTHON = """
import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    if dbt.config.get("fail"):
        raise RuntimeError("model failed on purpose")
    previous = session.sql("select count(*) as n from {schema}.source_table")
    return pd.DataFrame({{"id": [1, 2, 3], "n": [previous["n"][0].as_py()] * 3}})
"""


class TestPythonAtomicSwap:
    """A failing Python model leaves the previous table and no staging table behind."""

    @pytest.fixture(scope="class")
    def models(self, unique_schema):
        return {
            "source_table.sql": "select 1 as id",
            "swapped.py": SWAP_PYTHON.format(schema=unique_schema),
            "downstream.sql": "select * from {{ ref('swapped') }}",
            "schema.yml": (
                "version: 2\nmodels:\n  - name: swapped\n    config:\n"
                "      fail: \"{{ var('fail', false) }}\"\n"
            ),
        }

    def _tables(self, project) -> list[str]:
        rows = project.run_sql(
            "select table_name from information_schema.tables where table_schema = "
            f"'{project.test_schema}' order by 1",
            fetch="all",
        )
        return [row[0] for row in rows]

    def test_failure_keeps_old_table(self, project):
        run_dbt(["run"])
        relation = f"{project.test_schema}.swapped"
        assert project.run_sql(f"select count(*), max(n) from {relation}", fetch="one") == (3, 1)
        oid = project.run_sql(f"select '{relation}'::regclass::oid", fetch="one")[0]

        run_dbt(["run", "-s", "swapped", "--vars", "{fail: true}"], expect_pass=False)
        assert project.run_sql(f"select count(*) from {relation}", fetch="one")[0] == 3
        assert project.run_sql(f"select '{relation}'::regclass::oid", fetch="one")[0] == oid
        assert self._tables(project) == ["downstream", "source_table", "swapped"]

        # a successful rebuild replaces the table (new relation) and leaves no leftovers,
        # also none of an interrupted earlier run; as with dbt-postgres SQL tables, views on
        # the old table go with it: rebuild them
        project.run_sql(f"create table {project.test_schema}.swapped__dbt_py_0123456789 (x int)")
        run_dbt(["run", "-s", "swapped+"])
        assert project.run_sql(f"select '{relation}'::regclass::oid", fetch="one")[0] != oid
        assert self._tables(project) == ["downstream", "source_table", "swapped"]


READS_THIS_PYTHON = """
from bitrix_omni.frames import to_pandas


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key="id")
    frame = to_pandas(dbt.ref("m_1"))
    run = 1
    if dbt.is_incremental:
        previous = to_pandas(session.sql(f"select * from {dbt.this}"))
        run = int(previous["run"].max()) + 1
    frame["run"] = run
    frame["payload"] = [{"id": int(i), "tags": ["a"]} for i in frame["id"]]
    return frame
"""


class TestPythonIncrementalReadsThis:
    """The project's pattern: session.sql(select * from dbt.this) on incremental runs."""

    @pytest.fixture(scope="class")
    def models(self):
        return {"m_1.sql": python_suite.m_1, "reads_this.py": READS_THIS_PYTHON}

    def test_reads_previous_run(self, project):
        relation = f"{project.test_schema}.reads_this"
        run_dbt(["run"])
        assert project.run_sql(f"select count(*), max(run) from {relation}", fetch="one") == (5, 1)
        run_dbt(["run", "-s", "reads_this"])
        assert project.run_sql(
            f"select count(*), min(run), max(run) from {relation}", fetch="one"
        ) == (5, 2, 2)
        kind, payload = project.run_sql(
            f"select pg_typeof(payload)::text, payload from {relation} where id = 3", fetch="one"
        )
        assert kind == "jsonb" and payload == {"id": 3, "tags": ["a"]}
