{#-
    One row per current identity record: which customer it belongs to, and how.
    Incremental on the registry's stamp: the registry rewrites a record's row, with the
    run's resolved_at, whenever anything about it changes, so a run takes the current
    rows stamped after the newest row here, and the pre-hook deletes the records the
    registry marked gone since.
-#}
{#- PostgreSQL indexes for BI lookups; DuckDB builds none (its table swap and
    indexes do not mix, and scans are fast without them). -#}
{{ config(
    indexes=[
        {'columns': ['record_key'], 'unique': true},
        {'columns': ['customer_uuid']},
        {'columns': ['source_table', 'source_id'], 'unique': true},
    ] if target.type != 'duckdb' else [],
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='record_key',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_gone_identity_records() }}",
) }}
-- depends_on: {{ ref('int_identity__customer_registry') }}
with

current_map as (
    select * from {{ ref('int_identity__current_map') }}
    {%- if is_incremental() %}
        where resolved_at > {{ last_resolved_at() }}
    {%- endif %}
),

final as (
    select
        ---------- ids
        record_key,
        source_table,
        source_id,
        customer_uuid,
        previous_customer_uuid,
        ---------- strings
        match_method,
        ---------- numerics
        customer_records,
        ---------- booleans
        is_anchor,
        ---------- timestamps
        first_seen_at,
        last_seen_at,
        resolved_at,
        {{ bitrix_omni.run_stamp() }} as _built_at
    from current_map
)

select * from final
