{#-
    Diagnostics: raw source/medium pairs and CRM source codes that no channel
    rule matched. Add a rule to the channel_rules or crm_source_channels seed for
    the frequent ones.
-#}
with

touchpoints as (
    select * from {{ ref('int_journeys__touchpoints') }}
),

unassigned as (
    select
        touchpoint_type,
        coalesce(lower(trim(utm_source)), '') as utm_source,
        coalesce(lower(trim(utm_medium)), '') as utm_medium,
        coalesce(crm_source_id, '') as crm_source_id,
        cast(count(*) as bigint) as touchpoints,
        cast(count(distinct customer_uuid) as bigint) as customers,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from touchpoints
    where channel = 'unassigned'
    group by 1, 2, 3, 4
)

select * from unassigned
