with

source as (
    select * from {{ bitrix_source('b_sale_order_props_value') }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as order_prop_value_id,
        {{ bx_ref('order_id') }} as order_id,
        {{ bx_ref('order_props_id') }} as order_prop_id,
        ---------- strings
        {{ bx_code('code') }} as prop_code,
        {{ bx_text('name') }} as prop_name,
        {{ bx_text('value') }} as prop_value
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'order_prop_value_id', 'order_prop_value_id') }}
)

select * from deduplicated
