{#-
    Non-canceled orders by the ordering customer's first acquisition channel.
    Anonymous checkouts (orders of saleanonymous and other technical users)
    count through the identity map: their buyer is found through the basket's
    fuser and the checkout e-mail/phone, not through USER_ID.
-#}
with

orders as (
    select * from {{ ref('int_journeys__orders') }}
),

customer_channels as (
    select * from {{ ref('int_journeys__customer_channels') }}
),

channel_orders as (
    select
        customer_channels.first_channel,
        count(*) as orders,
        count(distinct orders.customer_uuid) as customers,
        sum(orders.order_total) as revenue,
        sum(case when orders.has_real_user then 1 else 0 end) as orders_with_site_user,
        sum(case when orders.has_real_user then orders.order_total else 0 end)
            as revenue_with_site_user,
        sum(case when orders.has_real_user then 0 else 1 end) as orders_anonymous_checkout
    from orders
    inner join customer_channels
        on orders.customer_uuid = customer_channels.customer_uuid
    where not orders.is_canceled
    group by 1
),

final as (
    select
        first_channel,
        cast(orders as bigint) as orders,
        cast(customers as bigint) as customers,
        cast(revenue as decimal(18, 4)) as revenue,
        cast(orders_with_site_user as bigint) as orders_with_site_user,
        cast(revenue_with_site_user as decimal(18, 4)) as revenue_with_site_user,
        cast(orders_anonymous_checkout as bigint) as orders_anonymous_checkout
    from channel_orders
)

select * from final
