{#- One row per current identity record: which customer it belongs to, and how. -#}
{#- PostgreSQL indexes for BI lookups; DuckDB builds none (its table swap and
    indexes do not mix, and scans are fast without them). -#}
{{ config(
    indexes=[
        {'columns': ['record_key'], 'unique': true},
        {'columns': ['customer_uuid']},
        {'columns': ['source_table', 'source_id'], 'unique': true},
    ] if target.type != 'duckdb' else [],
) }}
with

current_map as (
    select * from {{ ref('int_identity__current_map') }}
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
        resolved_at
    from current_map
)

select * from final
