{#-
    One timeline of touchpoints for every customer: the record-keyed touchpoints
    (int_journeys__record_touchpoints) reach their customer through the identity map;
    e-mail events through the normalized address, unless the recipient row names the site
    user.

    Incremental by customer (macros/incremental_scope.sql): a run rebuilds only the
    customers whose touchpoints (before de-duplication) changed, and sends one row without
    touchpoint_id for a customer left without any, which deletes their stored rows (the
    post-hook removes it again). A customer's fingerprint adds the stored row hashes of
    its record touchpoints, so finding the scope joins three narrow columns to the map
    instead of hashing every touchpoint again; the rebuild then reads only the record
    touchpoints of the records and addresses of customers in scope.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_uuid',
    on_schema_change='fail',
    post_hook=["delete from {{ this }} where touchpoint_id is null"],
) }}
{%- set scoped = bitrix_omni.is_scoped_run() %}
{%- set read_from = 'scoped_record_touchpoints' if scoped else 'record_touchpoints' %}
with

record_touchpoints as not materialized (
    select * from {{ ref('int_journeys__record_touchpoints') }}
),

identity_map as not materialized (
    select * from {{ ref('int_identity__current_map') }}
),

email_customers as not materialized (
    select * from {{ ref('int_identity__email_customers') }}
),

-- every record touchpoint's customer and row hash: only needed to find the scope
touchpoint_hashes as (
    select
        coalesce(identity_map.customer_uuid, email_customers.customer_uuid) as customer_uuid,
        record_touchpoints._row_hash
    from record_touchpoints
    left join identity_map
        on record_touchpoints.record_key = identity_map.record_key
    left join email_customers
        on record_touchpoints.email_hash = email_customers.email_hash
    where coalesce(identity_map.customer_uuid, email_customers.customer_uuid) is not null
),

fingerprints as (
    {{ key_fingerprints('customer_uuid', [
        {'relation': 'touchpoint_hashes', 'columns': ['_row_hash']},
    ]) }}
),

scope as (  -- noqa: ST03
    {{ keys_to_build('customer_uuid', 'fingerprints', vanished=true) }}
),

{%- if scoped %}

-- the record touchpoints a customer in scope can have: by its records or its addresses
scoped_record_touchpoints as (
    select *
    from record_touchpoints
    where
        record_key in (
            select identity_map.record_key
            from identity_map
            where {{ in_scope('identity_map.customer_uuid') }}
        )
        or email_hash in (
            select email_customers.email_hash
            from email_customers
            where {{ in_scope('email_customers.customer_uuid') }}
        )
),
{%- endif %}

all_touchpoints as (
    select
        coalesce(identity_map.customer_uuid, email_customers.customer_uuid) as customer_uuid,
        record_touchpoints.occurred_at,
        record_touchpoints.channel,
        record_touchpoints.touchpoint_type,
        record_touchpoints.utm_source,
        record_touchpoints.utm_medium,
        record_touchpoints.utm_campaign,
        record_touchpoints.crm_source_id,
        record_touchpoints.touchpoint_detail,
        record_touchpoints.source_table,
        record_touchpoints.source_id,
        record_touchpoints.revenue,
        record_touchpoints._row_hash
    from {{ read_from }} as record_touchpoints
    left join identity_map
        on record_touchpoints.record_key = identity_map.record_key
    left join email_customers
        on record_touchpoints.email_hash = email_customers.email_hash
    where coalesce(identity_map.customer_uuid, email_customers.customer_uuid) is not null
),

-- an activity bound to several entities of one customer counts once
deduplicated as (
    select
        *,
        row_number() over (
            partition by customer_uuid, source_table, source_id, touchpoint_type
            order by occurred_at
        ) as duplicate_rank,
        {{ fingerprint_over('customer_uuid', ['_row_hash']) }} as _input_fingerprint
    from all_touchpoints
    where {{ in_scope('customer_uuid') }}
),

-- the key first: the rows of emptied customers below are the key and NULLs, in order
final as (
    select
        customer_uuid,
        {{ dbt_utils.generate_surrogate_key(
            ['customer_uuid', 'source_table', 'source_id', 'touchpoint_type']
        ) }} as touchpoint_id,
        occurred_at,
        channel,
        touchpoint_type,
        touchpoint_type in ('order', 'order_canceled') as is_conversion,
        touchpoint_type in (
            'site_utm', 'crm_utm', 'crm_lead_source', 'crm_contact_source',
            'crm_deal_source', 'call', 'chat', 'email_message', 'web_form', 'sms',
            'meeting', 'request', 'email_click', 'email_open'
        ) as is_marketing_touch,
        utm_source,
        utm_medium,
        utm_campaign,
        crm_source_id,
        touchpoint_detail,
        source_table,
        source_id,
        revenue,
        _input_fingerprint,
        {{ bitrix_omni.run_stamp() }} as _built_at
    from deduplicated
    where duplicate_rank = 1
)

{{ bitrix_omni.rows_and_deleting_rows('final', 'customer_uuid', [
    'touchpoint_id', 'occurred_at', 'channel', 'touchpoint_type', 'is_conversion',
    'is_marketing_touch', 'utm_source', 'utm_medium', 'utm_campaign', 'crm_source_id',
    'touchpoint_detail', 'source_table', 'source_id', 'revenue',
    ['_input_fingerprint', bitrix_omni.fingerprint_type()], '_built_at',
], scoped) }}
