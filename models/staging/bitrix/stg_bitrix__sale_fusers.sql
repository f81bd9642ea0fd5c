{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_sale_fuser',
    'key': {'fuser_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as fuser_id,
        {{ bx_ref('user_id') }} as user_id,
        {{ bx_text('code') }} as cookie_code,
        ---------- timestamps
        {{ bx_timestamp('date_insert') }} as created_at,
        {{ bx_timestamp('date_update') }} as updated_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'fuser_id', 'updated_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
