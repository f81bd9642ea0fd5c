with

source as (
    select * from {{ bitrix_source('b_sender_posting_recipient') }}
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
        {{ bx_timestamp('date_sent') }} as sent_at
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'recipient_id', 'sent_at desc nulls last') }}
)

select * from deduplicated
