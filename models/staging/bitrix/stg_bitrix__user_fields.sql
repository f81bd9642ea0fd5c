{#- The UTM field names are site-specific: var bitrix_omni_user_utm_fields maps them. -#}
{%- set utm_fields = var('bitrix_omni_user_utm_fields') -%}
{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_uts_user',
    'extra_columns': utm_fields.values() | list,
    'key': {'user_id': "bx_int('value_id')"},
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
        {{ bx_int('value_id') }} as user_id,
        ---------- strings
        {{ bx_text(utm_fields['utm_source'] | lower) }} as utm_source,
        {{ bx_text(utm_fields['utm_medium'] | lower) }} as utm_medium,
        {{ bx_text(utm_fields['utm_campaign'] | lower) }} as utm_campaign,
        {{ bx_text(utm_fields['utm_content'] | lower) }} as utm_content,
        {{ bx_text(utm_fields['utm_term'] | lower) }} as utm_term,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'user_id', 'user_id') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
