{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_crm_field_multi',
    'key': {'communication_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as communication_id,
        {{ bx_ref('element_id') }} as entity_id,
        ---------- strings
        {{ bx_code('entity_id') }} as entity_type,
        {{ bx_code('type_id') }} as communication_type,
        {{ bx_code('value_type') }} as value_type,
        {{ bx_code('complex_id') }} as complex_id,
        {{ bx_text('value') }} as value_raw,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'communication_id', 'communication_id') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
