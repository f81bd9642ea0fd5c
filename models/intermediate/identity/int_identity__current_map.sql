{#-
    The registry's current records: one row per identity record that still exists.
    A view: the registry is a table already, and copying its millions of rows on every
    run would cost more than filtering them where they are read.
-#}
{{ config(materialized='view') }}
with

registry as (
    select * from {{ ref('int_identity__customer_registry') }}
),

current_records as (
    select
        record_key,
        source_table,
        source_id,
        customer_uuid,
        previous_customer_uuid,
        match_method,
        component_size as customer_records,
        is_anchor,
        first_seen_at,
        last_seen_at,
        resolved_at
    from registry
    where is_current
)

select * from current_records
