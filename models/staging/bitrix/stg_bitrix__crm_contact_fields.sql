{#- The site-user link field name is site-specific: var bitrix_omni_contact_site_user_field. -#}
{%- set site_user_field = var('bitrix_omni_contact_site_user_field') -%}
{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_uts_crm_contact',
    'extra_columns': [site_user_field],
    'key': {'contact_id': "bx_int('value_id')"},
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
        {{ bx_int('value_id') }} as contact_id,
        {{ bx_ref(site_user_field | lower) }} as site_user_id,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'contact_id', 'contact_id') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
