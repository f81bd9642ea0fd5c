"""Credentials and connection manager: dbt-postgres's, under the type name bitrix_postgres."""

from __future__ import annotations

from dataclasses import dataclass

from dbt.adapters.postgres.connections import PostgresConnectionManager, PostgresCredentials


@dataclass
class BitrixPostgresCredentials(PostgresCredentials):
    """The same profile fields as `type: postgres`."""

    @property
    def type(self) -> str:
        return "bitrix_postgres"


class BitrixPostgresConnectionManager(PostgresConnectionManager):
    TYPE = "bitrix_postgres"
