{#- The UTM field names are site-specific: var bitrix_omni_user_utm_fields maps them. -#}
{%- set utm_fields = var('bitrix_omni_user_utm_fields') -%}

with

source as (
    select * from {{ bitrix_source('b_uts_user', extra_columns=utm_fields.values() | list) }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('value_id') }} as user_id,
        ---------- strings
        {%- for utm_column, field_name in utm_fields.items() %}
        {{ bx_text(field_name | lower) }} as {{ utm_column }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'user_id', 'user_id') }}
)

select * from deduplicated
