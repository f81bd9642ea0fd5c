{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_crm_utm',
    'key': {
        'entity_type_id': "bx_int('entity_type_id')",
        'entity_id': "bx_ref('entity_id')",
        'utm_code': "bx_code('code')",
    },
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
        {{ bx_int('entity_type_id') }} as entity_type_id,
        {{ bx_ref('entity_id') }} as entity_id,
        ---------- strings
        {{ bx_code('code') }} as utm_code,
        {{ bx_text('value') }} as utm_value,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'entity_type_id, entity_id, utm_code', 'utm_value') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
