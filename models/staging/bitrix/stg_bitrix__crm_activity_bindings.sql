with

source as (
    select * from {{ bitrix_source('b_crm_act_bind') }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as activity_binding_id,
        {{ bx_ref('activity_id') }} as activity_id,
        {{ bx_int('owner_type_id') }} as owner_type_id,
        {{ bx_ref('owner_id') }} as owner_id
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'activity_binding_id', 'activity_binding_id') }}
)

select * from deduplicated
