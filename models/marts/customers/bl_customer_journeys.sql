{#-
    Every customer's touchpoints in order, numbered, with the step before each.
    Incremental by customer (macros/incremental_scope.sql): a run rewrites only the
    journeys of the customers whose touchpoints int_journeys__touchpoints rewrote since
    this table's newest row (its `_built_at`, no fingerprint: the journey reads nothing
    else, no var), and the pre-hook deletes the journeys of customers without touchpoints.
-#}
{#- PostgreSQL indexes for BI lookups; DuckDB builds none (its table swap and
    indexes do not mix, and scans are fast without them). -#}
{{ config(
    indexes=[
        {'columns': ['customer_uuid', 'step_number'], 'unique': true},
        {'columns': ['occurred_at']},
    ] if target.type != 'duckdb' else [],
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_uuid',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_keys_without_inputs(
        'customer_uuid', 'int_journeys__touchpoints') }}",
) }}
with

touchpoints as not materialized (
    select * from {{ ref('int_journeys__touchpoints') }}
),

scope as (  -- noqa: ST03
    {{ keys_written_upstream('customer_uuid', 'touchpoints') }}
),

ordered as (
    select
        ---------- ids
        touchpoint_id,
        customer_uuid,
        ---------- strings
        channel,
        touchpoint_type,
        utm_source,
        utm_medium,
        utm_campaign,
        crm_source_id,
        touchpoint_detail,
        source_table,
        ---------- numerics
        source_id,
        revenue,
        row_number() over (
            partition by customer_uuid
            order by occurred_at, touchpoint_id
        ) as step_number,
        ---------- booleans
        is_conversion,
        is_marketing_touch,
        ---------- timestamps
        occurred_at,
        lag(channel) over (
            partition by customer_uuid
            order by occurred_at, touchpoint_id
        ) as previous_channel,
        ---------- incremental state
        {{ bitrix_omni.run_stamp() }} as _built_at
    from touchpoints
    where {{ in_scope('customer_uuid', '_built_at') }}
)

select * from ordered
