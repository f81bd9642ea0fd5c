{#-
    The conversion report shared by bl_channel_report and bl_conversion_by_source:
    customers grouped by `dimensions` of int_journeys__customer_channels, with the
    customers who ordered (non-canceled), conversion rate, orders, revenue,
    average order value and time from first seen to first order.
-#}
{% macro channel_conversion_report(dimensions) %}
with

customer_channels as (
    select * from {{ ref('int_journeys__customer_channels') }}
),

customers as (
    select * from {{ ref('int_identity__customers') }}
),

orders as (
    select * from {{ ref('int_journeys__orders') }}
),

customer_orders as (
    select
        customer_uuid,
        count(*) as orders,
        sum(order_total) as revenue,
        min(created_at) as first_order_at
    from orders
    where not is_canceled
    group by 1
),

customer_facts as (
    select
        {% for dimension in dimensions -%}
            customer_channels.{{ dimension }},
        {% endfor -%}
        customer_channels.customer_uuid,
        coalesce(customer_orders.orders, 0) as orders,
        coalesce(customer_orders.revenue, 0) as revenue,
        {{ dbt.datediff('customers.first_seen_at', 'customer_orders.first_order_at', 'minute') }}
        / (60.0 * 24) as days_to_first_order
    from customer_channels
    inner join customers
        on customer_channels.customer_uuid = customers.customer_uuid
    left join customer_orders
        on customer_channels.customer_uuid = customer_orders.customer_uuid
),

report as (
    select
        {% for dimension in dimensions -%}
            {{ dimension }},
        {% endfor -%}
        cast(count(*) as bigint) as customers,
        cast(sum(case when orders > 0 then 1 else 0 end) as bigint) as customers_with_orders,
        cast(sum(orders) as bigint) as orders,
        cast(sum(revenue) as decimal(18, 4)) as revenue,
        cast(avg(days_to_first_order) as double precision) as avg_days_to_first_order,
        cast(
            percentile_cont(0.5) within group (order by days_to_first_order)
            as double precision
        ) as median_days_to_first_order
    from customer_facts
    group by {% for dimension in dimensions %}{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}
),

final as (
    select
        {% for dimension in dimensions -%}
            {{ dimension }},
        {% endfor -%}
        customers,
        customers_with_orders,
        cast(customers_with_orders as double precision) / customers as conversion_rate,
        orders,
        revenue,
        cast(
            case when orders > 0 then revenue / orders end as decimal(18, 4)
        ) as average_order_value,
        avg_days_to_first_order,
        median_days_to_first_order
    from report
)

select * from final
{% endmacro %}
