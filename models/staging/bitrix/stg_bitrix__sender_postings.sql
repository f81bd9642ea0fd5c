with

source as (
    select * from {{ bitrix_source('b_sender_posting') }}
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
        {{ bx_timestamp('date_sent') }} as sent_at
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'posting_id', 'sent_at desc nulls last') }}
)

select * from deduplicated
