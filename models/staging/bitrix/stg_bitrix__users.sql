{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_user',
    'key': {'user_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as user_id,
        {{ bx_text('xml_id') }} as xml_id,
        {{ bx_text('bx_user_id') }} as browser_id,
        ---------- strings
        {{ bx_text('login') }} as login_name,
        {{ bx_text('name') }} as first_name,
        {{ bx_text('last_name') }} as last_name,
        {{ bx_text('second_name') }} as second_name,
        {{ bx_text('email') }} as email_raw,
        {{ bx_text('personal_phone') }} as personal_phone_raw,
        {{ bx_text('personal_mobile') }} as personal_mobile_raw,
        {{ bx_text('work_phone') }} as work_phone_raw,
        {{ bx_code('personal_gender') }} as gender,
        {{ bx_text('personal_city') }} as city,
        {{ bx_text('lid') }} as site_id,
        lower({{ bx_text('external_auth_id') }}) as external_auth_id,
        ---------- booleans
        {{ bx_flag('active') }} as is_active,
        coalesce(
            lower({{ bx_text('external_auth_id') }})
            in ({{ bitrix_omni.sql_list(var('bitrix_omni_technical_auth_ids')) }}),
            false
        ) as is_technical,
        ---------- dates
        {{ bx_date('personal_birthday') }} as birth_date,
        ---------- timestamps
        {{ bx_timestamp('date_register') }} as registered_at,
        {{ bx_timestamp('last_login') }} as last_login_at,
        {{ bx_timestamp('last_activity_date') }} as last_activity_at,
        {{ bx_timestamp('timestamp_x') }} as updated_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'user_id', 'updated_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
