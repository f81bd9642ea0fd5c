{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_crm_deal',
    'key': {'deal_id': "bx_int('id')"},
} -%}
{{ config(
    unique_key=raw_table['key'].keys() | list,
    meta={'bitrix_raw_table': raw_table},
) }}

with

source as (
    select * from {{ bitrix_staging_source(raw_table) }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as deal_id,
        {{ bx_ref('contact_id') }} as contact_id,
        {{ bx_ref('company_id') }} as company_id,
        {{ bx_ref('lead_id') }} as lead_id,
        coalesce({{ bx_int('category_id') }}, 0) as category_id,
        {{ bx_ref('assigned_by_id') }} as assigned_by_user_id,
        {{ bx_text('originator_id') }} as originator_id,
        {{ bx_text('origin_id') }} as origin_id,
        ---------- strings
        {{ bx_text('title') }} as title,
        {{ bx_code('stage_id') }} as stage_id,
        {{ bx_code('stage_semantic_id') }} as stage_semantic_id,
        {{ bx_code('type_id') }} as deal_type_id,
        {{ bx_code('source_id') }} as source_id,
        {{ bx_text('source_description') }} as source_description,
        {{ bx_code('currency_id') }} as currency,
        ---------- numerics
        {{ bx_decimal('opportunity', 18, 2) }} as opportunity_amount,
        ---------- booleans
        coalesce({{ bx_flag('closed') }}, false) as is_closed,
        coalesce({{ bx_flag('is_return_customer') }}, false) as is_return_customer,
        ---------- timestamps
        {{ bx_timestamp('date_create') }} as created_at,
        {{ bx_timestamp('date_modify') }} as updated_at,
        {{ bx_timestamp('begindate') }} as planned_begin_at,
        {{ bx_timestamp('closedate') }} as planned_close_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'deal_id', 'updated_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
