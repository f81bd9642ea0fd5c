{#-
    Multi-touch attribution of orders to channels. For every non-canceled order,
    the customer's marketing touches at or before the order and at most
    `bitrix_omni_attribution_lookback_days` days before it share the order under
    five models (first_touch, last_touch, linear, position_based, time_decay).
    Every touch in the window gets a row under every model, with credit 0 where
    the model gives it nothing. An order without touches in the window gets one
    'direct' row per model with credit 1 and no touchpoint.

    Incremental by customer (macros/incremental_scope.sql): a run rewrites only the
    orders of customers whose touchpoints changed.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_uuid',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_keys_without_inputs(
        'customer_uuid', 'int_journeys__touchpoints',
        {'touchpoint_type': 'order', 'source_table': 'b_sale_order'}) }}",
) }}
{%- set lookback_days = var('bitrix_omni_attribution_lookback_days') | int -%}
{%- set half_life_days = var('bitrix_omni_attribution_half_life_days') | float -%}
{%- set touch_columns = [
    'touchpoint_id', 'source_id', 'touchpoint_type', 'source_table', 'channel',
    'is_marketing_touch', 'occurred_at', 'revenue', lookback_days, half_life_days,
] -%}

with

touchpoints as not materialized (
    select * from {{ ref('int_journeys__touchpoints') }}
),

attribution_models as (
    select 'first_touch' as attribution_model
    union all
    select 'last_touch' as attribution_model
    union all
    select 'linear' as attribution_model
    union all
    select 'position_based' as attribution_model
    union all
    select 'time_decay' as attribution_model
),

order_touchpoints as (
    select * from touchpoints
    where
        touchpoint_type = 'order'
        and source_table = 'b_sale_order'
),

-- the touchpoints of customers with orders: the only customers with rows here
customer_touchpoints as (
    select * from touchpoints
    where customer_uuid in (select order_touchpoints.customer_uuid from order_touchpoints)
),

fingerprints as (
    {{ key_fingerprints('customer_uuid', [
        {'relation': 'customer_touchpoints', 'columns': touch_columns},
    ]) }}
),

scope as (  -- noqa: ST03
    {{ keys_to_build('customer_uuid', 'fingerprints') }}
),

customer_fingerprints as (
    select
        customer_uuid,
        {{ fingerprint_of([fingerprint_part(touch_columns)]) }} as customer_fingerprint
    from customer_touchpoints
    where {{ in_scope('customer_uuid') }}
    group by 1
),

orders as (
    select
        order_touchpoints.source_id as order_id,
        order_touchpoints.customer_uuid,
        order_touchpoints.occurred_at as order_at,
        order_touchpoints.revenue,
        customer_fingerprints.customer_fingerprint
    from order_touchpoints
    inner join customer_fingerprints
        on order_touchpoints.customer_uuid = customer_fingerprints.customer_uuid
),

-- touchpoint_id is unique in the timeline (tested there)
marketing_touches as (
    select
        touchpoint_id,
        customer_uuid,
        occurred_at as touchpoint_at,
        channel
    from customer_touchpoints
    where
        is_marketing_touch
        and {{ in_scope('customer_uuid') }}
),

window_touches as (
    select
        orders.order_id,
        orders.customer_uuid,
        orders.order_at,
        orders.revenue,
        orders.customer_fingerprint,
        marketing_touches.touchpoint_id,
        marketing_touches.channel,
        marketing_touches.touchpoint_at,
        power(
            cast(2 as double precision),
            -1 * cast(
                {{ dbt.datediff('marketing_touches.touchpoint_at', 'orders.order_at', 'second') }}
                as double precision
            ) / (86400 * cast({{ half_life_days }} as double precision))
        ) as decay_weight
    from orders
    inner join marketing_touches
        on
            orders.customer_uuid = marketing_touches.customer_uuid
            and orders.order_at >= marketing_touches.touchpoint_at
            and marketing_touches.touchpoint_at
            >= {{ dbt.dateadd('day', -lookback_days, 'orders.order_at') }}
),

positioned_touches as (
    select
        order_id,
        customer_uuid,
        order_at,
        revenue,
        customer_fingerprint,
        touchpoint_id,
        channel,
        touchpoint_at,
        decay_weight,
        row_number() over (
            partition by order_id
            order by touchpoint_at, touchpoint_id
        ) as touch_position,
        count(*) over (partition by order_id) as touches_in_window,
        sum(decay_weight) over (partition by order_id) as total_decay_weight
    from window_touches
),

credited_touches as (
    select
        positioned_touches.order_id,
        positioned_touches.customer_uuid,
        positioned_touches.order_at,
        positioned_touches.revenue,
        positioned_touches.customer_fingerprint,
        positioned_touches.touchpoint_id,
        positioned_touches.channel,
        positioned_touches.touchpoint_at,
        positioned_touches.touch_position,
        positioned_touches.touches_in_window,
        attribution_models.attribution_model,
        case attribution_models.attribution_model
            when 'first_touch'
                then case when positioned_touches.touch_position = 1 then 1 else 0 end
            when 'last_touch'
                then
                    case
                        when positioned_touches.touch_position
                            = positioned_touches.touches_in_window
                            then 1
                        else 0
                    end
            when 'linear'
                then 1 / cast(positioned_touches.touches_in_window as double precision)
            when 'position_based'
                then
                    case
                        when positioned_touches.touches_in_window = 1 then 1
                        when positioned_touches.touches_in_window = 2 then 0.5
                        when
                            positioned_touches.touch_position = 1
                            or positioned_touches.touch_position
                            = positioned_touches.touches_in_window
                            then 0.4
                        else
                            0.2 / cast(
                                positioned_touches.touches_in_window - 2 as double precision
                            )
                    end
            when 'time_decay'
                then positioned_touches.decay_weight / positioned_touches.total_decay_weight
        end as credit
    from positioned_touches
    cross join attribution_models
),

direct_orders as (
    select
        orders.order_id,
        orders.customer_uuid,
        orders.order_at,
        orders.revenue,
        orders.customer_fingerprint,
        cast(null as {{ dbt.type_string() }}) as touchpoint_id,
        'direct' as channel,
        cast(null as {{ dbt.type_timestamp() }}) as touchpoint_at,
        cast(null as {{ dbt.type_bigint() }}) as touch_position,
        0 as touches_in_window,
        attribution_models.attribution_model,
        1 as credit
    from orders
    left join positioned_touches
        on
            orders.order_id = positioned_touches.order_id
            and positioned_touches.touch_position = 1
    cross join attribution_models
    where positioned_touches.order_id is null
),

attributed_rows as (
    select * from credited_touches
    union all
    select * from direct_orders
),

final as (
    select
        ---------- ids
        cast(attributed_rows.order_id as {{ dbt.type_bigint() }}) as order_id,
        cast(attributed_rows.customer_uuid as {{ dbt.type_string() }}) as customer_uuid,
        cast(attributed_rows.touchpoint_id as {{ dbt.type_string() }}) as touchpoint_id,
        ---------- strings
        cast(attributed_rows.channel as {{ dbt.type_string() }}) as channel,
        cast(attributed_rows.attribution_model as {{ dbt.type_string() }}) as attribution_model,
        ---------- numerics
        cast(attributed_rows.revenue as numeric(28, 6)) as revenue,
        cast(attributed_rows.touch_position as {{ dbt.type_bigint() }}) as touch_position,
        cast(attributed_rows.touches_in_window as {{ dbt.type_bigint() }}) as touches_in_window,
        cast(attributed_rows.credit as double precision) as credit,
        cast(
            attributed_rows.revenue * cast(attributed_rows.credit as double precision)
            as numeric(28, 6)
        ) as attributed_revenue,
        ---------- timestamps
        attributed_rows.order_at,
        attributed_rows.touchpoint_at,
        ---------- incremental state
        attributed_rows.customer_fingerprint as _input_fingerprint,
        {{ bitrix_omni.run_stamp() }} as _built_at
    from attributed_rows
)

select * from final
