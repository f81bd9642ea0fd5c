{#-
    Per customer: the first acquisition channel and a JSON summary of every
    channel (first/last touch, touch count). The first channel is the channel of
    the earliest marketing touchpoint (conversions do not count) that happened
    no later than `bitrix_omni_acquisition_window_days` after the customer first
    appeared: a newsletter opened months after the first order did not acquire
    the customer. Ties at the same instant go to the more explicit evidence (site
    UTM, then CRM UTM, then CRM source, then activities, then e-mail), then to
    the channel name. A customer without such a touch is 'direct' when they
    reached the site (user, buyer or order records) and 'unassigned' otherwise.

    Incremental by customer (macros/incremental_scope.sql): a run rebuilds only the
    customers whose touchpoints or customer row changed.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_uuid',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_keys_without_inputs(
        'customer_uuid', 'int_identity__customers') }}",
) }}
{%- set window_days = var('bitrix_omni_acquisition_window_days') | int %}
{%- set customer_columns = ['first_seen_at', 'site_users', 'buyers', 'orders'] %}
{%- set touch_columns = [
    'occurred_at', 'channel', 'touchpoint_type', 'source_table', 'utm_source', 'utm_medium',
    'crm_source_id', 'is_marketing_touch', 'is_conversion',
] %}
with

touchpoints as not materialized (
    select * from {{ ref('int_journeys__touchpoints') }}
),

customers as not materialized (
    select * from {{ ref('int_identity__customers') }}
),

-- the timeline's customers are customers (touchpoints are attached through the map)
fingerprints as (
    {{ key_fingerprints('customer_uuid', [
        {'relation': 'customers', 'columns': customer_columns + [window_days]},
        {'relation': 'touchpoints', 'columns': touch_columns},
    ]) }}
),

scope as (  -- noqa: ST03
    {{ keys_to_build('customer_uuid', 'fingerprints') }}
),

scoped_touchpoints as (
    select * from touchpoints
    where {{ in_scope('customer_uuid') }}
),

scoped_customers as (
    select * from customers
    where {{ in_scope('customer_uuid') }}
),

marketing_touches as (
    select
        touchpoints.customer_uuid,
        touchpoints.occurred_at,
        touchpoints.channel,
        coalesce(
            touchpoints.utm_source, touchpoints.crm_source_id, touchpoints.touchpoint_type
        ) as touch_source,
        coalesce(touchpoints.utm_medium, touchpoints.touchpoint_type) as touch_medium,
        case
            when touchpoints.touchpoint_type = 'site_utm' then 1
            when touchpoints.touchpoint_type = 'crm_utm' then 2
            when touchpoints.touchpoint_type like 'crm_%_source' then 3
            when touchpoints.source_table = 'b_crm_act' then 4
            else 5
        end as evidence_rank
    from scoped_touchpoints as touchpoints
    inner join scoped_customers as customers
        on touchpoints.customer_uuid = customers.customer_uuid
    where
        touchpoints.is_marketing_touch
        and (
            customers.first_seen_at is null
            or touchpoints.occurred_at <= {{ dbt.dateadd(
                'day', window_days, 'customers.first_seen_at'
            ) }}
        )
),

ranked_touches as (
    select
        customer_uuid,
        channel,
        touch_source,
        touch_medium,
        occurred_at,
        row_number() over (
            partition by customer_uuid
            order by occurred_at asc, evidence_rank asc, channel asc
        ) as touch_rank
    from marketing_touches
),

first_touches as (
    select
        customer_uuid,
        channel as first_channel,
        lower(trim(touch_source)) as first_source,
        lower(trim(touch_medium)) as first_medium,
        occurred_at as first_touch_at
    from ranked_touches
    where touch_rank = 1
),

channel_figures as (
    select
        customer_uuid,
        channel,
        min(occurred_at) as first_at,
        max(occurred_at) as last_at,
        count(*) as touchpoints
    from scoped_touchpoints
    where not is_conversion
    group by 1, 2
),

touch_fingerprints as (
    select
        customer_uuid,
        {{ fingerprint_part(touch_columns) }} as touch_fingerprint
    from scoped_touchpoints
    group by 1
),

channel_json as (
    select
        customer_uuid,
        {{ json_object_agg('channel', json_object([
            ('first_at', iso_timestamp('first_at')),
            ('last_at', iso_timestamp('last_at')),
            ('touchpoints', 'touchpoints'),
        ])) }} as channels
    from channel_figures
    group by 1
),

final as (
    select
        customers.customer_uuid,
        coalesce(
            first_touches.first_channel,
            case
                when customers.site_users + customers.buyers + customers.orders > 0
                    then 'direct'
                else 'unassigned'
            end
        ) as first_channel,
        coalesce(first_touches.first_source, '(none)') as first_source,
        coalesce(first_touches.first_medium, '(none)') as first_medium,
        first_touches.first_touch_at,
        coalesce(channel_json.channels, {{ empty_json_object() }}) as channels,
        ---------- incremental state
        {{ fingerprint_of([
            bx_hash([bitrix_quoted_csv(customer_columns, 'customers.'), window_days]),
            'touch_fingerprints.touch_fingerprint',
        ]) }} as _input_fingerprint,
        {{ bitrix_omni.run_stamp() }} as _built_at
    from scoped_customers as customers
    left join touch_fingerprints
        on customers.customer_uuid = touch_fingerprints.customer_uuid
    left join first_touches
        on customers.customer_uuid = first_touches.customer_uuid
    left join channel_json
        on customers.customer_uuid = channel_json.customer_uuid
)

select * from final
