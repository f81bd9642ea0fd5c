{#-
    The staged keys that incremental runs deleted because the export no longer had them
    (hard deletes in Bitrix), one row per key and run. No query of its own: the staging
    models' post-hook (bitrix_log_tombstones) appends their tombstones here before removing
    them, so a later model (int_identity__record_changes) learns what was deleted without
    comparing every staged key. A --full-refresh of a staging model deletes without
    tombstones; its readers detect that from `_staged_at` (every row restamped).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
) }}

select
    cast(null as {{ dbt.type_string() }}) as raw_table,
    cast(null as {{ dbt.type_string() }}) as deleted_key,
    cast(null as {{ dbt.type_timestamp() }}) as deleted_at
where false
