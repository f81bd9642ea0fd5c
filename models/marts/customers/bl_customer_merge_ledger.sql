{#-
    History of customer_uuid changes: when two customers merge (the absorbed uuid
    disappears) or one splits (records move away from a uuid that stays). One row
    per (run, from uuid, to uuid). Appended each run and never rebuilt: it is the
    history that explains why a uuid a BI tool stored no longer exists.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
) }}

with

registry as not materialized (
    select * from {{ ref('int_identity__customer_registry') }}
),

moved_records as (
    select
        previous_customer_uuid as from_customer_uuid,
        customer_uuid as to_customer_uuid,
        resolved_at,
        count(*) as records_moved
    from registry
    where
        is_current
        and previous_customer_uuid is not null
        and previous_customer_uuid <> customer_uuid
        -- only this run's changes: the registry keeps the previous uuid until the next run
        and resolved_at > (
            {% if is_incremental() %}
                select coalesce(max(ledger.resolved_at), cast('1900-01-01' as timestamp))
                from {{ this }} as ledger
            {% else %}
                select cast('1900-01-01' as timestamp)
            {% endif %}
        )
    group by 1, 2, 3
),

uuids_in_use as (
    select distinct customer_uuid
    from registry
    where is_current
),

events as (
    select
        moved_records.resolved_at,
        moved_records.from_customer_uuid,
        moved_records.to_customer_uuid,
        moved_records.records_moved,
        case
            when uuids_in_use.customer_uuid is null then 'merge'
            else 'split'
        end as event_type
    from moved_records
    left join uuids_in_use
        on moved_records.from_customer_uuid = uuids_in_use.customer_uuid
)

select * from events
