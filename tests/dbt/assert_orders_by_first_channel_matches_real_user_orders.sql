{#-
    Restricted to orders placed by a real site user, bl_orders_by_first_channel
    must give the numbers of the straightforward SQL an analyst would write over
    staging: non-canceled orders joined by USER_ID to the user's customer and
    its first channel. Any row returned is a mismatch.
-#}
with

orders as (
    select * from {{ ref('stg_bitrix__orders') }}
),

users as (
    select * from {{ ref('stg_bitrix__users') }}
),

identity_map as (
    select * from {{ ref('bl_customer_identity_map') }}
),

profile as (
    select * from {{ ref('bl_customer_profile') }}
),

mart as (
    select * from {{ ref('bl_orders_by_first_channel') }}
),

direct_sql as (
    select
        profile.first_channel,
        count(*) as orders,
        sum(orders.order_total) as revenue
    from orders
    inner join users
        on orders.user_id = users.user_id
    inner join identity_map
        on
            identity_map.source_table = 'b_user'
            and users.user_id = identity_map.source_id
    inner join profile
        on identity_map.customer_uuid = profile.customer_uuid
    where
        not orders.is_canceled
        and not users.is_technical
    group by 1
),

compared as (
    select
        coalesce(direct_sql.first_channel, mart.first_channel) as first_channel,
        direct_sql.orders as expected_orders,
        mart.orders_with_site_user as mart_orders,
        direct_sql.revenue as expected_revenue,
        mart.revenue_with_site_user as mart_revenue
    from direct_sql
    full outer join mart
        on direct_sql.first_channel = mart.first_channel
)

select * from compared
where
    coalesce(expected_orders, 0) <> coalesce(mart_orders, 0)
    or abs(coalesce(expected_revenue, 0) - coalesce(mart_revenue, 0)) > 0.0001
