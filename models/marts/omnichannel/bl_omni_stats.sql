{#-
    Hourly figures by channel: touchpoints and active customers by the channel
    of the touch; new customers, orders and revenue by the customer's first
    acquisition channel.

    Incremental: a run recomputes (a) the last `bitrix_omni_omni_stats_lookback_hours`
    hours before the newest hour already built, for late-arriving data, and (b)
    every hour touched by customers whose identity changed in this run (new
    records, merges), because their first channel and counts may have moved.
    Rows are replaced hour by hour (unique_key hour_at), so an incremental run
    gives the same table as a full refresh. A rebuilt hour that no longer has any
    figures is sent as an all-zero row, so that its stale rows are deleted, and
    the post-hook removes it again.
-#}
{#- PostgreSQL indexes for BI lookups; DuckDB builds none (its table swap and
    indexes do not mix, and scans are fast without them). -#}
{{ config(
    indexes=[
        {'columns': ['hour_at', 'channel'], 'unique': true},
    ] if target.type != 'duckdb' else [],
) }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='hour_at',
    on_schema_change='fail',
    post_hook=[
        "delete from {{ this }} where touchpoints = 0 and active_customers = 0"
        " and new_customers = 0 and orders = 0",
    ],
) }}

-- depends_on: {{ ref('int_identity__current_map') }}

with

touchpoints as (
    select * from {{ ref('int_journeys__touchpoints') }}
),

orders as (
    select * from {{ ref('int_journeys__orders') }}
),

customer_channels as (
    select * from {{ ref('int_journeys__customer_channels') }}
),

customers as (
    select * from {{ ref('int_identity__customers') }}
),

customer_starts as (
    select
        customers.customer_uuid,
        customer_channels.first_channel,
        {{ dbt.date_trunc('hour', 'customers.first_seen_at') }} as start_hour
    from customers
    inner join customer_channels
        on customers.customer_uuid = customer_channels.customer_uuid
),

{% if is_incremental() %}
    identity_map as (
        select * from {{ ref('int_identity__current_map') }}
    ),

    -- customers whose figures may have moved: new records or merges in the latest
    -- identity run (the registry rewrites only changed rows, stamped with the run's
    -- time), or still inside their acquisition window (their first channel can change)
    changed_customers as (
        select distinct identity_map.customer_uuid
        from identity_map
        where
            (
                identity_map.previous_customer_uuid is null
                or identity_map.previous_customer_uuid <> identity_map.customer_uuid
            )
            and identity_map.resolved_at = (
                select max(latest.resolved_at) from identity_map as latest
            )
        union
        select customers.customer_uuid
        from customers
        where customers.first_seen_at >= (
            select
                {{ dbt.dateadd(
                    'day',
                    -1 * var('bitrix_omni_acquisition_window_days'),
                    'max(built.hour_at)'
                ) }}
            from {{ this }} as built
        )
    ),

    hours_to_build as (
        select {{ dbt.date_trunc('hour', 'touchpoints.occurred_at') }} as hour_at
        from touchpoints
        inner join changed_customers
            on touchpoints.customer_uuid = changed_customers.customer_uuid
        union
        -- where a changed customer may have counted as new before: any of its
        -- records' first appearance
        select {{ dbt.date_trunc('hour', 'identity_map.first_seen_at') }} as hour_at
        from identity_map
        inner join changed_customers
            on identity_map.customer_uuid = changed_customers.customer_uuid
        union
        select distinct {{ dbt.date_trunc('hour', 'touchpoints.occurred_at') }} as hour_at
        from touchpoints
        where touchpoints.occurred_at >= (
            select
                {{ dbt.dateadd(
                    'hour',
                    -1 * var('bitrix_omni_omni_stats_lookback_hours'),
                    'max(built.hour_at)'
                ) }}
            from {{ this }} as built
        )
    ),
{% endif %}

touch_figures as (
    select
        {{ dbt.date_trunc('hour', 'occurred_at') }} as hour_at,
        channel,
        count(*) as touchpoints,
        count(distinct customer_uuid) as active_customers,
        0 as new_customers,
        0 as orders,
        0 as revenue
    from touchpoints
    where not is_conversion
    group by 1, 2
),

start_figures as (
    select
        start_hour as hour_at,
        first_channel as channel,
        0 as touchpoints,
        0 as active_customers,
        count(*) as new_customers,
        0 as orders,
        0 as revenue
    from customer_starts
    where start_hour is not null
    group by 1, 2
),

order_figures as (
    select
        {{ dbt.date_trunc('hour', 'orders.created_at') }} as hour_at,
        customer_channels.first_channel as channel,
        0 as touchpoints,
        0 as active_customers,
        0 as new_customers,
        count(*) as orders,
        sum(orders.order_total) as revenue
    from orders
    inner join customer_channels
        on orders.customer_uuid = customer_channels.customer_uuid
    where
        not orders.is_canceled
        and orders.created_at is not null
    group by 1, 2
),

all_figures as (
    select * from touch_figures
    union all
    select * from start_figures
    union all
    select * from order_figures
    {% if is_incremental() %}
        union all
        select
            hour_at,
            '(none)' as channel,
            0 as touchpoints,
            0 as active_customers,
            0 as new_customers,
            0 as orders,
            0 as revenue
        from hours_to_build
    {% endif %}
),

hourly as (
    select
        all_figures.hour_at,
        all_figures.channel,
        cast(sum(all_figures.touchpoints) as bigint) as touchpoints,
        cast(sum(all_figures.active_customers) as bigint) as active_customers,
        cast(sum(all_figures.new_customers) as bigint) as new_customers,
        cast(sum(all_figures.orders) as bigint) as orders,
        cast(sum(all_figures.revenue) as decimal(18, 4)) as revenue
    from all_figures
    {% if is_incremental() %}
        inner join hours_to_build
            on all_figures.hour_at = hours_to_build.hour_at
    {% endif %}
    group by 1, 2
)

select * from hourly
