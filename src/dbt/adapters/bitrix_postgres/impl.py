"""The adapter: PostgresAdapter plus in-process Python model execution."""

from __future__ import annotations

from typing import Any

from dbt.adapters.base.impl import AdapterTrackingRelationInfo, PythonJobHelper
from dbt.adapters.contracts.connection import AdapterResponse
from dbt.adapters.postgres import PostgresAdapter

from dbt.adapters.bitrix_postgres.connections import BitrixPostgresConnectionManager


class LocalPythonJobHelper(PythonJobHelper):
    """Runs a compiled Python model in the dbt process (the only submission method)."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials

    def submit(self, compiled_code: str) -> Any:
        from dbt.adapters.bitrix_postgres.python_runtime import run_python_model

        return run_python_model(compiled_code, self.credentials)


class BitrixPostgresAdapter(PostgresAdapter):
    ConnectionManager = BitrixPostgresConnectionManager
    connections: BitrixPostgresConnectionManager

    @property
    def default_python_submission_method(self) -> str:
        return "local"

    @property
    def python_submission_helpers(self) -> dict[str, type[PythonJobHelper]]:
        return {"local": LocalPythonJobHelper}

    def generate_python_submission_response(self, submission_result: Any) -> AdapterResponse:
        rows = int(getattr(submission_result, "rows", 0) or 0)
        seconds = getattr(submission_result, "seconds", None)
        message = f"PYTHON {rows}" + (f" in {seconds:.2f}s" if seconds is not None else "")
        return AdapterResponse(_message=message, rows_affected=rows, code="PYTHON")

    @classmethod
    def get_adapter_run_info(cls, config: Any) -> AdapterTrackingRelationInfo:
        # dbt derives the module name from the class name ("bitrixpostgres"): give the real one
        from dbt.adapters.__about__ import version as base_version

        from dbt.adapters.bitrix_postgres.__version__ import version

        return AdapterTrackingRelationInfo(
            adapter_name="bitrix_postgres",
            base_adapter_version=base_version,
            adapter_version=version,
            model_adapter_details=cls._get_adapter_specific_run_info(config),
        )
