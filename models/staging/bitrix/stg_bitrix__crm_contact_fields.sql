{#- The site-user link field name is site-specific: var bitrix_omni_contact_site_user_field. -#}
{%- set site_user_field = var('bitrix_omni_contact_site_user_field') -%}

with

source as (
    select * from {{ bitrix_source('b_uts_crm_contact', extra_columns=[site_user_field]) }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('value_id') }} as contact_id,
        {{ bx_ref(site_user_field | lower) }} as site_user_id
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'contact_id', 'contact_id') }}
)

select * from deduplicated
