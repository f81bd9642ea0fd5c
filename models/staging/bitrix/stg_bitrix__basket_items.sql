{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_sale_basket',
    'key': {'basket_item_id': "bx_int('id')"},
} -%}
{{ config(
    unique_key=raw_table['key'].keys() | list,
    meta={'bitrix_raw_table': raw_table},
) }}

with

source as (
    select * from {{ bitrix_staging_source(raw_table) }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as basket_item_id,
        {{ bx_ref('fuser_id') }} as fuser_id,
        {{ bx_ref('order_id') }} as order_id,
        {{ bx_ref('product_id') }} as product_id,
        ---------- strings
        {{ bx_text('name') }} as product_name,
        {{ bx_code('currency') }} as currency,
        {{ bx_text('lid') }} as site_id,
        ---------- numerics
        {{ bx_decimal('price') }} as unit_price,
        {{ bx_decimal('base_price') }} as unit_base_price,
        {{ bx_decimal('discount_price') }} as unit_discount,
        {{ bx_decimal('quantity') }} as quantity,
        ---------- booleans
        coalesce({{ bx_flag('delay') }}, false) as is_delayed,
        {{ bx_flag('can_buy') }} as can_buy,
        ---------- timestamps
        {{ bx_timestamp('date_insert') }} as created_at,
        {{ bx_timestamp('date_update') }} as updated_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'basket_item_id', 'updated_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
