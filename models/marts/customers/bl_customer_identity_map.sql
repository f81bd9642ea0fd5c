{#- One row per current identity record: which customer it belongs to, and how. -#}
with

registry as (
    select * from {{ ref('int_identity__customer_registry') }}
),

current_records as (
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
        component_size as customer_records,
        ---------- booleans
        is_anchor,
        ---------- timestamps
        first_seen_at,
        last_seen_at,
        resolved_at
    from registry
    where is_current
)

select * from current_records
