{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_crm_status',
    'key': {'status_row_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as status_row_id,
        coalesce({{ bx_int('category_id') }}, 0) as category_id,
        ---------- strings
        {{ bx_code('entity_id') }} as dictionary_id,
        {{ bx_code('status_id') }} as status_id,
        {{ bx_text('name') }} as status_name,
        {{ bx_code('semantics') }} as semantics,
        ---------- numerics
        {{ bx_int('sort') }} as sort_order,
        ---------- booleans
        coalesce({{ bx_flag('system') }}, false) as is_system,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'status_row_id', 'status_row_id') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
