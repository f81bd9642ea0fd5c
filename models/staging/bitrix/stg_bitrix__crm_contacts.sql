{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_crm_contact',
    'key': {'contact_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as contact_id,
        {{ bx_ref('company_id') }} as company_id,
        {{ bx_ref('lead_id') }} as lead_id,
        {{ bx_ref('webform_id') }} as webform_id,
        {{ bx_ref('assigned_by_id') }} as assigned_by_user_id,
        {{ bx_ref('created_by_id') }} as created_by_user_id,
        {{ bx_text('originator_id') }} as originator_id,
        {{ bx_text('origin_id') }} as origin_id,
        ---------- strings
        {{ bx_text('name') }} as first_name,
        {{ bx_text('last_name') }} as last_name,
        {{ bx_text('second_name') }} as second_name,
        {{ bx_text('full_name') }} as full_name,
        {{ bx_code('type_id') }} as contact_type_id,
        {{ bx_code('source_id') }} as source_id,
        {{ bx_text('source_description') }} as source_description,
        ---------- booleans
        {{ bx_flag('opened') }} as is_opened,
        {{ bx_flag('has_phone') }} as has_phone,
        {{ bx_flag('has_email') }} as has_email,
        ---------- timestamps
        {{ bx_timestamp('date_create') }} as created_at,
        {{ bx_timestamp('date_modify') }} as updated_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'contact_id', 'updated_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
