{#- Channels × attribution models: how many orders and how much revenue each channel earns. -#}
with

order_attribution as (
    select * from {{ ref('bl_order_attribution') }}
),

aggregated as (
    select
        channel,
        attribution_model,
        count(distinct case when credit > 0 then order_id end) as orders_touched,
        sum(credit) as orders_credited,
        sum(attributed_revenue) as attributed_revenue
    from order_attribution
    group by 1, 2
),

final as (
    select
        ---------- strings
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(attribution_model as {{ dbt.type_string() }}) as attribution_model,
        ---------- numerics
        cast(orders_touched as {{ dbt.type_bigint() }}) as orders_touched,
        cast(orders_credited as double precision) as orders_credited,
        cast(attributed_revenue as numeric(38, 6)) as attributed_revenue
    from aggregated
)

select * from final
