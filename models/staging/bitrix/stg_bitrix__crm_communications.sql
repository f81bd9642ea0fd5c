with

source as (
    select * from {{ bitrix_source('b_crm_field_multi') }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as communication_id,
        {{ bx_ref('element_id') }} as entity_id,
        ---------- strings
        {{ bx_code('entity_id') }} as entity_type,
        {{ bx_code('type_id') }} as communication_type,
        {{ bx_code('value_type') }} as value_type,
        {{ bx_code('complex_id') }} as complex_id,
        {{ bx_text('value') }} as value_raw
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'communication_id', 'communication_id') }}
)

select * from deduplicated
