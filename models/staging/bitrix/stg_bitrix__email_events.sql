with

source as (
    select * from {{ bitrix_source('bl_email_events') }}
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
        {{ bx_utc_timestamp('event_time') }} as occurred_at
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'email_event_id', 'occurred_at desc nulls last') }}
)

select * from deduplicated
