{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_crm_act',
    'key': {'activity_id': "bx_int('id')"},
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
        {{ bx_int('id') }} as activity_id,
        {{ bx_int('owner_type_id') }} as owner_type_id,
        {{ bx_ref('owner_id') }} as owner_id,
        {{ bx_ref('associated_entity_id') }} as associated_entity_id,
        {{ bx_ref('responsible_id') }} as responsible_user_id,
        {{ bx_text('origin_id') }} as origin_id,
        {{ bx_text('originator_id') }} as originator_id,
        ---------- strings
        {{ bx_code('provider_id') }} as provider_id,
        {{ bx_text('provider_type_id') }} as provider_type_id,
        {{ bx_text('subject') }} as subject,
        ---------- numerics
        {{ bx_int('type_id') }} as activity_type_id,
        {{ bx_int('direction') }} as direction_id,
        {{ bx_int('status') }} as status_id,
        {{ bx_int('result_stream') }} as result_stream_id,
        ---------- booleans
        coalesce({{ bx_flag('completed') }}, false) as is_completed,
        ---------- timestamps
        {{ bx_timestamp('created') }} as created_at,
        {{ bx_timestamp('last_updated') }} as updated_at,
        {{ bx_timestamp('start_time') }} as started_at,
        {{ bx_timestamp('end_time') }} as ended_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'activity_id', 'updated_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
