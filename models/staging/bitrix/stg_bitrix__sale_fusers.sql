with

source as (
    select * from {{ bitrix_source('b_sale_fuser') }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as fuser_id,
        {{ bx_ref('user_id') }} as user_id,
        {{ bx_text('code') }} as cookie_code,
        ---------- timestamps
        {{ bx_timestamp('date_insert') }} as created_at,
        {{ bx_timestamp('date_update') }} as updated_at
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'fuser_id', 'updated_at desc nulls last') }}
)

select * from deduplicated
