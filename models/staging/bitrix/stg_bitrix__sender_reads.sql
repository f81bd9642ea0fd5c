with

source as (
    select * from {{ bitrix_source('b_sender_posting_read') }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as read_id,
        {{ bx_ref('posting_id') }} as posting_id,
        {{ bx_ref('recipient_id') }} as recipient_id,
        ---------- timestamps
        {{ bx_timestamp('date_insert') }} as read_at
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'read_id', 'read_at desc nulls last') }}
)

select * from deduplicated
