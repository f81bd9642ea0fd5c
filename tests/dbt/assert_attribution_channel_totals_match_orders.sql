{#-
    Under every attribution model, bl_channel_attribution hands out exactly the
    non-canceled orders: credits sum to their count and attributed revenue to
    their revenue (within rounding of 1e-6 per attribution row). Returns the
    models that do not add up, and orders attributed although canceled.
-#}
with

channel_attribution as (
    select * from {{ ref('bl_channel_attribution') }}
),

order_attribution as not materialized (
    select * from {{ ref('bl_order_attribution') }}
),

touchpoints as not materialized (
    select * from {{ ref('int_journeys__touchpoints') }}
),

orders as (
    select
        count(*) as order_count,
        sum(revenue) as order_revenue
    from touchpoints
    where
        touchpoint_type = 'order'
        and source_table = 'b_sale_order'
),

attribution_rows as (
    select
        attribution_model,
        count(*) as row_count
    from order_attribution
    group by 1
),

model_totals as (
    select
        attribution_model,
        sum(orders_credited) as orders_credited,
        sum(attributed_revenue) as attributed_revenue
    from channel_attribution
    group by 1
),

unbalanced_models as (
    select
        model_totals.attribution_model,
        'totals differ from orders' as failure
    from model_totals
    inner join attribution_rows
        on model_totals.attribution_model = attribution_rows.attribution_model
    cross join orders
    where
        abs(model_totals.orders_credited - orders.order_count) > 1e-6
        or abs(model_totals.attributed_revenue - orders.order_revenue)
        > 0.000001 * attribution_rows.row_count
),

canceled_orders as (
    select distinct
        order_attribution.attribution_model,
        'canceled order attributed' as failure
    from order_attribution
    inner join touchpoints
        on
            touchpoints.source_table = 'b_sale_order'
            and order_attribution.order_id = touchpoints.source_id
    where touchpoints.touchpoint_type = 'order_canceled'
),

failures as (
    select * from unbalanced_models
    union all
    select * from canceled_orders
)

select * from failures
