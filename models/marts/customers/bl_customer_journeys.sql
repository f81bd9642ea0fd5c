{#- Every customer's touchpoints in order, numbered, with the step before each. -#}
{#- PostgreSQL indexes for BI lookups; DuckDB builds none (its table swap and
    indexes do not mix, and scans are fast without them). -#}
{{ config(
    indexes=[
        {'columns': ['customer_uuid', 'step_number'], 'unique': true},
        {'columns': ['occurred_at']},
    ] if target.type != 'duckdb' else [],
) }}
with

touchpoints as (
    select * from {{ ref('int_journeys__touchpoints') }}
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
        ) as previous_channel
    from touchpoints
)

select * from ordered
