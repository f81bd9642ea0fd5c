with

source as (
    select * from {{ bitrix_source('b_sender_posting_click') }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as click_id,
        {{ bx_ref('posting_id') }} as posting_id,
        {{ bx_ref('recipient_id') }} as recipient_id,
        ---------- strings
        {{ bx_text('url') }} as url,
        ---------- timestamps
        {{ bx_timestamp('date_insert') }} as clicked_at
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'click_id', 'clicked_at desc nulls last') }}
)

select * from deduplicated
