{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_sale_order_props_value',
    'key': {'order_prop_value_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as order_prop_value_id,
        {{ bx_ref('order_id') }} as order_id,
        {{ bx_ref('order_props_id') }} as order_prop_id,
        ---------- strings
        {{ bx_code('code') }} as prop_code,
        {{ bx_text('name') }} as prop_name,
        {{ bx_text('value') }} as prop_value,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'order_prop_value_id', 'order_prop_value_id') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
