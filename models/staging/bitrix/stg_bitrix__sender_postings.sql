{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_sender_posting',
    'key': {'posting_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as posting_id,
        {{ bx_ref('mailing_id') }} as mailing_id,
        {{ bx_ref('mailing_chain_id') }} as mailing_chain_id,
        ---------- strings
        {{ bx_code('status') }} as status_code,
        ---------- timestamps
        {{ bx_timestamp('date_create') }} as created_at,
        {{ bx_timestamp('date_sent') }} as sent_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'posting_id', 'sent_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
