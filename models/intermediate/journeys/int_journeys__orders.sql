{#- Orders with their customer, whether a real site user placed them, and money. -#}
with

orders as (
    select * from {{ ref('stg_bitrix__orders') }}
),

users as (
    select * from {{ ref('stg_bitrix__users') }}
),

identity_map as (
    select * from {{ ref('int_identity__current_map') }}
),

customer_orders as (
    select
        orders.order_id,
        identity_map.customer_uuid,
        orders.user_id,
        coalesce(users.user_id is not null and not users.is_technical, false)
            as has_real_user,
        orders.created_at,
        orders.order_total,
        orders.currency,
        orders.is_canceled,
        orders.is_paid
    from orders
    inner join identity_map
        on
            identity_map.source_table = 'b_sale_order'
            and orders.order_id = identity_map.source_id
    left join users
        on orders.user_id = users.user_id
)

select * from customer_orders
