{#-
    UTM marks of CRM entities pivoted: one row per (entity type, entity) with all five
    tags; marks bound to no entity are left out.

    Incremental by entity: a run rebuilds the entities with a mark (re)staged or deleted
    since its newest row (macros/incremental_scope.sql, `staged_key_scope`), everything
    when staging was rebuilt whole.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_staged_key_scope(
        'stg_bitrix__crm_utm_marks', ['entity_type_id', 'entity_id']) }}",
) }}
{%- set scope = bitrix_omni.staged_key_scope(
    'stg_bitrix__crm_utm_marks', ['entity_type_id', 'entity_id']) %}
{%- set in_scope = '(entity_type_id, entity_id) in (' ~ scope ~ ')' if scope is not none
    else 'true' %}
with

crm_utm_marks as (
    select * from {{ ref('stg_bitrix__crm_utm_marks') }}
    where
        entity_type_id is not null
        and entity_id is not null
        and {{ in_scope }}
),

pivoted as (
    select
        entity_type_id,
        entity_id,
        max(case when utm_code = 'UTM_SOURCE' then utm_value end) as utm_source,
        max(case when utm_code = 'UTM_MEDIUM' then utm_value end) as utm_medium,
        max(case when utm_code = 'UTM_CAMPAIGN' then utm_value end) as utm_campaign,
        max(case when utm_code = 'UTM_CONTENT' then utm_value end) as utm_content,
        max(case when utm_code = 'UTM_TERM' then utm_value end) as utm_term,
        {{ bitrix_omni.run_stamp() }} as _built_at
    from crm_utm_marks
    group by 1, 2
)

select * from pivoted
