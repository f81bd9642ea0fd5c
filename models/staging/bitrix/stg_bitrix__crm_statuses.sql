with

source as (
    select * from {{ bitrix_source('b_crm_status') }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as status_row_id,
        coalesce({{ bx_int('category_id') }}, 0) as category_id,
        ---------- strings
        {{ bx_code('entity_id') }} as dictionary_id,
        {{ bx_code('status_id') }} as status_id,
        {{ bx_text('name') }} as status_name,
        {{ bx_code('semantics') }} as semantics,
        ---------- numerics
        {{ bx_int('sort') }} as sort_order,
        ---------- booleans
        coalesce({{ bx_flag('system') }}, false) as is_system
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'status_row_id', 'status_row_id') }}
)

select * from deduplicated
