{#-
    Hourly figures by channel: touchpoints and active customers by the channel
    of the touch; new customers, orders and revenue by the customer's first
    acquisition channel.

    Incremental by hour (macros/incremental_scope.sql): every hour keeps the
    fingerprint of the rows it counts (touches, customer starts, orders with the
    customer's first channel), and a run rebuilds the hours whose rows changed: new
    data, late data of any age, replica edits, merges that move a customer's first
    channel. Rows are replaced hour by hour (unique_key hour_at), so an incremental run
    gives the same table as a full refresh. A rebuilt hour that no longer has any
    figures is sent as an all-zero row, so that its stale rows are deleted, and the
    post-hook removes it again.
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

with

touchpoints as (
    select * from {{ ref('int_journeys__touchpoints') }}
),

orders as (
    select * from {{ ref('int_journeys__orders') }}
),

customer_channels as not materialized (
    select * from {{ ref('int_journeys__customer_channels') }}
),

customers as (
    select * from {{ ref('int_identity__customers') }}
),

-- the rows each hour counts
touch_rows as (
    select
        {{ dbt.date_trunc('hour', 'occurred_at') }} as hour_at,
        channel,
        customer_uuid
    from touchpoints
    where not is_conversion
),

start_rows as (
    select
        {{ dbt.date_trunc('hour', 'customers.first_seen_at') }} as hour_at,
        customer_channels.first_channel as channel,
        customers.customer_uuid
    from customers
    inner join customer_channels
        on customers.customer_uuid = customer_channels.customer_uuid
    where customers.first_seen_at is not null
),

order_rows as (
    select
        {{ dbt.date_trunc('hour', 'orders.created_at') }} as hour_at,
        customer_channels.first_channel as channel,
        orders.order_id,
        orders.order_total
    from orders
    inner join customer_channels
        on orders.customer_uuid = customer_channels.customer_uuid
    where
        not orders.is_canceled
        and orders.created_at is not null
),

fingerprints as (
    {{ key_fingerprints('hour_at', [
        {'relation': 'touch_rows', 'columns': ["'touch'", 'channel', 'customer_uuid']},
        {'relation': 'start_rows', 'columns': ["'start'", 'channel', 'customer_uuid']},
        {'relation': 'order_rows', 'columns': ["'order'", 'channel', 'order_id', 'order_total']},
    ]) }}
),

-- hours with new or changed rows, and (incremental runs) built hours without rows now
scope as (  -- noqa: ST03
    {{ keys_to_build('hour_at', 'fingerprints', vanished=true) }}
),

touch_figures as (
    select
        hour_at,
        channel,
        count(*) as touchpoints,
        count(distinct customer_uuid) as active_customers,
        0 as new_customers,
        0 as orders,
        0 as revenue
    from touch_rows
    where {{ in_scope('hour_at') }}
    group by 1, 2
),

start_figures as (
    select
        hour_at,
        channel,
        0 as touchpoints,
        0 as active_customers,
        count(*) as new_customers,
        0 as orders,
        0 as revenue
    from start_rows
    where {{ in_scope('hour_at') }}
    group by 1, 2
),

order_figures as (
    select
        hour_at,
        channel,
        0 as touchpoints,
        0 as active_customers,
        0 as new_customers,
        count(*) as orders,
        sum(order_total) as revenue
    from order_rows
    where {{ in_scope('hour_at') }}
    group by 1, 2
),

all_figures as (
    select * from touch_figures
    union all
    select * from start_figures
    union all
    select * from order_figures
    {%- if is_scoped_run() %}
        union all
        select
            scope_key as hour_at,
            '(none)' as channel,
            0 as touchpoints,
            0 as active_customers,
            0 as new_customers,
            0 as orders,
            0 as revenue
        from scope
    {%- endif %}
),

hourly as (
    select
        all_figures.hour_at,
        all_figures.channel,
        cast(sum(all_figures.touchpoints) as bigint) as touchpoints,
        cast(sum(all_figures.active_customers) as bigint) as active_customers,
        cast(sum(all_figures.new_customers) as bigint) as new_customers,
        cast(sum(all_figures.orders) as bigint) as orders,
        cast(sum(all_figures.revenue) as decimal(18, 4)) as revenue,
        ---------- incremental state
        fingerprints.input_fingerprint as _input_fingerprint
    from all_figures
    left join fingerprints
        on all_figures.hour_at = fingerprints.hour_at
    group by 1, 2, 8
)

select * from hourly
