{#-
    The unified customer: ids across Bitrix, best contacts, activity span, channels.
    Incremental by customer (macros/incremental_scope.sql): a run rewrites only the
    customers whose customer row, channels or orders changed.
-#}
{#- PostgreSQL indexes for BI lookups; DuckDB builds none (its table swap and
    indexes do not mix, and scans are fast without them). -#}
{{ config(
    indexes=[
        {'columns': ['customer_uuid'], 'unique': true},
        {'columns': ['user_id']},
        {'columns': ['crm_contact_id']},
    ] if target.type != 'duckdb' else [],
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_uuid',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_keys_without_inputs(
        'customer_uuid', 'int_identity__customers') }}",
) }}
{%- set customer_columns = [
    'user_id', 'fuser_ids', 'crm_contact_id', 'email', 'phone', 'records', 'first_seen_at',
    'last_seen_at',
] %}
{%- set channel_columns = ['first_channel', 'channels'] %}
{%- set order_columns = ['order_id', 'order_total', 'created_at'] %}
with

customers as not materialized (
    select * from {{ ref('int_identity__customers') }}
),

customer_channels as not materialized (
    select * from {{ ref('int_journeys__customer_channels') }}
),

orders as (
    select * from {{ ref('int_journeys__orders') }}
),

counted_orders as (
    select * from orders
    where not is_canceled
),

-- every order and channel row belongs to a customer of int_identity__customers
fingerprints as (
    {{ key_fingerprints('customer_uuid', [
        {'relation': 'customers', 'columns': customer_columns},
        {'relation': 'customer_channels', 'columns': channel_columns},
        {'relation': 'counted_orders', 'columns': order_columns},
    ]) }}
),

scope as (  -- noqa: ST03
    {{ keys_to_build('customer_uuid', 'fingerprints') }}
),

order_figures as (
    select
        customer_uuid,
        count(*) as orders,
        sum(order_total) as revenue,
        min(created_at) as first_order_at,
        max(created_at) as last_order_at,
        {{ fingerprint_part(order_columns) }} as order_fingerprint
    from counted_orders
    where {{ in_scope('customer_uuid') }}
    group by 1
),

profile as (
    select
        ---------- ids
        customers.customer_uuid,
        customers.user_id,
        customers.fuser_ids,
        customers.crm_contact_id,
        ---------- strings
        customers.email,
        customers.phone,
        customer_channels.first_channel,
        ---------- json
        customer_channels.channels,
        ---------- numerics
        cast(customers.records as bigint) as records,
        cast(coalesce(order_figures.orders, 0) as bigint) as orders,
        cast(coalesce(order_figures.revenue, 0) as decimal(38, 4)) as revenue,
        ---------- timestamps
        customers.first_seen_at as first_seen,
        customers.last_seen_at as last_seen,
        order_figures.first_order_at,
        order_figures.last_order_at,
        ---------- incremental state
        {{ fingerprint_of([
            bx_row_hash(customer_columns, 'customers.'),
            'case when customer_channels.customer_uuid is not null then '
            ~ bx_row_hash(channel_columns, 'customer_channels.') ~ ' end',
            'order_figures.order_fingerprint',
        ]) }} as _input_fingerprint,
        {{ bitrix_omni.run_stamp() }} as _built_at
    from customers
    left join customer_channels
        on customers.customer_uuid = customer_channels.customer_uuid
    left join order_figures
        on customers.customer_uuid = order_figures.customer_uuid
    where {{ in_scope('customers.customer_uuid') }}
)

select * from profile
