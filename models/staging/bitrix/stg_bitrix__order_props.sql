{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_sale_order_props',
    'key': {'order_prop_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as order_prop_id,
        {{ bx_ref('person_type_id') }} as person_type_id,
        ---------- strings
        {{ bx_code('code') }} as prop_code,
        {{ bx_text('name') }} as prop_name,
        {{ bx_code('type') }} as prop_type,
        ---------- booleans
        {{ bx_flag('active') }} as is_active,
        coalesce({{ bx_flag('is_email') }}, false) as is_email,
        coalesce({{ bx_flag('is_phone') }}, false) as is_phone,
        coalesce({{ bx_flag('is_payer') }}, false) as is_payer_name,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'order_prop_id', 'order_prop_id') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
