"""`dbt` with dbt's relation cache answering a partial list for the replicated schema.

dbt lists a schema it did not cache at the start of a run and adds the relations to its
cache one at a time; a thread that asks while another is doing so gets the relations
added so far. This runs dbt (arguments as for `dbt`) with that moment made permanent: the
cached answer for the schema `BITRIX_SOURCE_SCHEMA` holds its first relation only. The
project must not depend on the cache for the raw tables.

Its name must not start with `dbt_`: dbt imports every such module on the path as a plugin,
and this one patches dbt on import.
"""

from __future__ import annotations

import os
import sys

from dbt.adapters.base.impl import BaseAdapter
from dbt.cli.main import dbtRunner

_list_relations = BaseAdapter.list_relations


def _partial_list_relations(self, database, schema):
    relations = _list_relations(self, database, schema)
    if schema == os.environ["BITRIX_SOURCE_SCHEMA"]:
        return sorted(relations, key=lambda relation: relation.identifier)[:1]
    return relations


BaseAdapter.list_relations = _partial_list_relations

if __name__ == "__main__":
    result = dbtRunner().invoke(sys.argv[1:])
    sys.exit(0 if result.success else 1)
