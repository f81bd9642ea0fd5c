with

source as (
    select * from {{ bitrix_source('b_crm_utm') }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('entity_type_id') }} as entity_type_id,
        {{ bx_ref('entity_id') }} as entity_id,
        ---------- strings
        {{ bx_code('code') }} as utm_code,
        {{ bx_text('value') }} as utm_value
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'entity_type_id, entity_id, utm_code', 'utm_value') }}
)

select * from deduplicated
