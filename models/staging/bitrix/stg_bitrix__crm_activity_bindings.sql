{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_crm_act_bind',
    'key': {'activity_binding_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as activity_binding_id,
        {{ bx_ref('activity_id') }} as activity_id,
        {{ bx_int('owner_type_id') }} as owner_type_id,
        {{ bx_ref('owner_id') }} as owner_id,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'activity_binding_id', 'activity_binding_id') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
