"""dbt-postgres plus Python models: the `bitrix_postgres` adapter type.

SQL models, seeds, tests, snapshots, views, grants and contracts are dbt-postgres's own
(this adapter subclasses it and declares `postgres` as its dependency, so every
`postgres__` macro applies). Python models run in the dbt process: refs are read and the
result is written through ADBC (PostgreSQL binary COPY), then swapped in atomically.
"""

from dbt.adapters.base import AdapterPlugin

from dbt.adapters.bitrix_postgres.connections import (
    BitrixPostgresConnectionManager,
    BitrixPostgresCredentials,
)
from dbt.adapters.bitrix_postgres.impl import BitrixPostgresAdapter
from dbt.include import bitrix_postgres

Plugin = AdapterPlugin(
    adapter=BitrixPostgresAdapter,  # type: ignore[arg-type]
    credentials=BitrixPostgresCredentials,
    include_path=bitrix_postgres.PACKAGE_PATH,
    dependencies=["postgres"],
)

__all__ = [
    "BitrixPostgresAdapter",
    "BitrixPostgresConnectionManager",
    "BitrixPostgresCredentials",
    "Plugin",
]
