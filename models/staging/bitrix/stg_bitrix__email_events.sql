{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'bl_email_events',
    'key': {'email_event_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as email_event_id,
        {{ bx_text('campaign_id') }} as campaign_id,
        ---------- strings
        lower({{ bx_text('esp') }}) as esp,
        lower({{ bx_text('event_type') }}) as event_type,
        {{ bx_text('email') }} as email_raw,
        {{ bx_text('url') }} as url,
        ---------- timestamps
        -- written by our webhook receiver, already UTC
        {{ bx_utc_timestamp('event_time') }} as occurred_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'email_event_id', 'occurred_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
