{#-
    Every record that can belong to a customer, one row each, keyed
    '<bitrix table>:<id>'. Technical users (saleanonymous & co) are not people
    and are left out; the orders they own are records of their own.

    Incremental by record: a run rebuilds the records int_identity__record_changes logged
    since the newest `_changed_at` here (its pre-hook deletes their rows first), or every
    record when that log does not reach back so far (macros/record_changes.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_changed_records() }}",
) }}
{%- set since = bitrix_omni.record_scope_since() %}

with

users as (
    select * from {{ ref('stg_bitrix__users') }}
),

fusers as (
    select * from {{ ref('stg_bitrix__sale_fusers') }}
),

orders as (
    select * from {{ ref('stg_bitrix__orders') }}
),

contacts as (
    select * from {{ ref('stg_bitrix__crm_contacts') }}
),

leads as (
    select * from {{ ref('stg_bitrix__crm_leads') }}
),

unioned as (
    select
        'b_user' as source_table,
        user_id as source_id,
        coalesce(registered_at, updated_at) as first_seen_at,
        greatest(
            coalesce(last_activity_at, registered_at),
            coalesce(last_login_at, registered_at)
        ) as last_seen_at
    from users
    where
        not is_technical
        and {{ bitrix_omni.in_changed_records('b_user', 'user_id', since) }}

    union all

    select
        'b_sale_fuser' as source_table,
        fuser_id as source_id,
        created_at as first_seen_at,
        coalesce(updated_at, created_at) as last_seen_at
    from fusers
    where {{ bitrix_omni.in_changed_records('b_sale_fuser', 'fuser_id', since) }}

    union all

    select
        'b_sale_order' as source_table,
        order_id as source_id,
        created_at as first_seen_at,
        created_at as last_seen_at
    from orders
    where {{ bitrix_omni.in_changed_records('b_sale_order', 'order_id', since) }}

    union all

    select
        'b_crm_contact' as source_table,
        contact_id as source_id,
        created_at as first_seen_at,
        coalesce(updated_at, created_at) as last_seen_at
    from contacts
    where {{ bitrix_omni.in_changed_records('b_crm_contact', 'contact_id', since) }}

    union all

    select
        'b_crm_lead' as source_table,
        lead_id as source_id,
        created_at as first_seen_at,
        coalesce(updated_at, created_at) as last_seen_at
    from leads
    where {{ bitrix_omni.in_changed_records('b_crm_lead', 'lead_id', since) }}
),

keyed as (
    select
        {{ identity_record_key('source_table', 'source_id') }} as record_key,
        source_table,
        source_id,
        first_seen_at,
        last_seen_at,
        {{ bitrix_omni.run_stamp() }} as _changed_at
    from unioned
)

-- Written in record_key order: after a whole build identity resolution of the whole graph
-- skips its own sort of the keys.
select * from keyed
order by record_key
