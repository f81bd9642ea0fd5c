{#- UTM marks of CRM entities pivoted: one row per (entity type, entity) with all five tags. -#}
with

crm_utm_marks as (
    select * from {{ ref('stg_bitrix__crm_utm_marks') }}
),

pivoted as (
    select
        entity_type_id,
        entity_id,
        max(case when utm_code = 'UTM_SOURCE' then utm_value end) as utm_source,
        max(case when utm_code = 'UTM_MEDIUM' then utm_value end) as utm_medium,
        max(case when utm_code = 'UTM_CAMPAIGN' then utm_value end) as utm_campaign,
        max(case when utm_code = 'UTM_CONTENT' then utm_value end) as utm_content,
        max(case when utm_code = 'UTM_TERM' then utm_value end) as utm_term
    from crm_utm_marks
    group by 1, 2
)

select * from pivoted
