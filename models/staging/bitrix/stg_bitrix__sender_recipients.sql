{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_sender_posting_recipient',
    'key': {'recipient_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as recipient_id,
        {{ bx_ref('posting_id') }} as posting_id,
        {{ bx_ref('contact_id') }} as sender_contact_id,
        {{ bx_ref('user_id') }} as user_id,
        ---------- strings
        {{ bx_code('status') }} as status_code,
        ---------- booleans
        -- the sender module's letters are inverted: N means sent successfully
        coalesce({{ bx_code('status') }} = 'N', false) as is_sent,
        coalesce({{ bx_flag('is_read') }}, false) as has_read,
        coalesce({{ bx_flag('is_click') }}, false) as has_clicked,
        coalesce({{ bx_flag('is_unsub') }}, false) as is_unsubscribed,
        ---------- timestamps
        {{ bx_timestamp('date_sent') }} as sent_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'recipient_id', 'sent_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
