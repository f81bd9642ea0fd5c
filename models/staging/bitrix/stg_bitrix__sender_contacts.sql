{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_sender_contact',
    'key': {'sender_contact_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as sender_contact_id,
        {{ bx_ref('user_id') }} as user_id,
        ---------- strings
        {{ bx_text('code') }} as address_raw,
        {{ bx_text('name') }} as contact_name,
        ---------- numerics
        {{ bx_int('type_id') }} as contact_type_id,
        ---------- booleans
        coalesce({{ bx_flag('blacklisted') }}, false) as is_blacklisted,
        coalesce({{ bx_flag('is_read') }}, false) as has_read,
        coalesce({{ bx_flag('is_click') }}, false) as has_clicked,
        coalesce({{ bx_flag('is_unsub') }}, false) as is_unsubscribed,
        ---------- timestamps
        {{ bx_timestamp('date_insert') }} as created_at,
        {{ bx_timestamp('date_update') }} as updated_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'sender_contact_id', 'updated_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
