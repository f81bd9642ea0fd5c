{#-
    Every customer's touchpoints in order, numbered, with the step before each.
    Incremental by customer (macros/incremental_scope.sql): a run rewrites only the
    journeys of customers whose touchpoints changed.
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
    on_schema_change='fail',
    pre_hook="{{ bitrix_omni.delete_keys_without_inputs(
        'customer_uuid', 'int_journeys__touchpoints') }}",
) }}
with

touchpoints as (
    select * from {{ ref('int_journeys__touchpoints') }}
),

fingerprints as (
    {{ key_fingerprints('customer_uuid', [
        {'relation': 'touchpoints', 'columns': [
            'touchpoint_id', 'channel', 'touchpoint_type', 'utm_source', 'utm_medium',
            'utm_campaign', 'crm_source_id', 'touchpoint_detail', 'source_table', 'source_id',
            'revenue', 'is_conversion', 'is_marketing_touch', 'occurred_at',
        ]},
    ]) }}
),

scope as (  -- noqa: ST03
    {{ keys_to_build('customer_uuid', 'fingerprints') }}
),

ordered as (
    select
        ---------- ids
        touchpoints.touchpoint_id,
        touchpoints.customer_uuid,
        ---------- strings
        touchpoints.channel,
        touchpoints.touchpoint_type,
        touchpoints.utm_source,
        touchpoints.utm_medium,
        touchpoints.utm_campaign,
        touchpoints.crm_source_id,
        touchpoints.touchpoint_detail,
        touchpoints.source_table,
        ---------- numerics
        touchpoints.source_id,
        touchpoints.revenue,
        row_number() over (
            partition by touchpoints.customer_uuid
            order by touchpoints.occurred_at, touchpoints.touchpoint_id
        ) as step_number,
        ---------- booleans
        touchpoints.is_conversion,
        touchpoints.is_marketing_touch,
        ---------- timestamps
        touchpoints.occurred_at,
        lag(touchpoints.channel) over (
            partition by touchpoints.customer_uuid
            order by touchpoints.occurred_at, touchpoints.touchpoint_id
        ) as previous_channel,
        ---------- incremental state
        fingerprints.input_fingerprint as _input_fingerprint
    from touchpoints
    inner join fingerprints
        on touchpoints.customer_uuid = fingerprints.customer_uuid
    where {{ in_scope('touchpoints.customer_uuid') }}
)

select * from ordered
