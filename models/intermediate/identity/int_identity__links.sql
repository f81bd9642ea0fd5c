{#-
    Known links between identity records (Bitrix keys, not guesses). Each row
    says: these two records are the same customer, because `evidence`.
    Links to technical users are not links: saleanonymous owns every anonymous
    checkout and would glue all guests into one customer.

    Incremental by the record a link row is keyed by (`record_key`), on
    int_identity__record_changes (see int_identity__records): a changed row holding a
    link logs the records at both ends, and a site user turning technical or back logs
    the records linking to it.
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

basket_items as (
    select * from {{ ref('stg_bitrix__basket_items') }}
),

orders as (
    select * from {{ ref('stg_bitrix__orders') }}
),

leads as (
    select * from {{ ref('stg_bitrix__crm_leads') }}
),

contacts as (
    select * from {{ ref('stg_bitrix__crm_contacts') }}
),

contact_fields as (
    select * from {{ ref('stg_bitrix__crm_contact_fields') }}
),

technical_users as (
    select user_id from users
    where is_technical
),

pairs as (
    select
        'b_sale_fuser' as from_table,
        fusers.fuser_id as from_id,
        'b_user' as to_table,
        fusers.user_id as to_id,
        'b_sale_fuser.USER_ID' as evidence
    from fusers
    where
        fusers.user_id is not null
        and {{ bitrix_omni.in_changed_records('b_sale_fuser', 'fusers.fuser_id', since) }}

    union all

    select distinct
        'b_sale_fuser' as from_table,
        basket_items.fuser_id as from_id,
        'b_sale_order' as to_table,
        basket_items.order_id as to_id,
        'b_sale_basket.ORDER_ID' as evidence
    from basket_items
    where
        basket_items.fuser_id is not null
        and basket_items.order_id is not null
        and {{ bitrix_omni.in_changed_records('b_sale_fuser', 'basket_items.fuser_id', since) }}

    union all

    select
        'b_sale_order' as from_table,
        orders.order_id as from_id,
        'b_user' as to_table,
        orders.user_id as to_id,
        'b_sale_order.USER_ID' as evidence
    from orders
    where
        orders.user_id is not null
        and {{ bitrix_omni.in_changed_records('b_sale_order', 'orders.order_id', since) }}

    union all

    select
        'b_crm_lead' as from_table,
        leads.lead_id as from_id,
        'b_crm_contact' as to_table,
        leads.contact_id as to_id,
        'b_crm_lead.CONTACT_ID' as evidence
    from leads
    where
        leads.contact_id is not null
        and {{ bitrix_omni.in_changed_records('b_crm_lead', 'leads.lead_id', since) }}

    union all

    select
        'b_crm_contact' as from_table,
        contacts.contact_id as from_id,
        'b_crm_lead' as to_table,
        contacts.lead_id as to_id,
        'b_crm_contact.LEAD_ID' as evidence
    from contacts
    where
        contacts.lead_id is not null
        and {{ bitrix_omni.in_changed_records('b_crm_contact', 'contacts.contact_id', since) }}

    union all

    select
        'b_crm_contact' as from_table,
        contact_fields.contact_id as from_id,
        'b_user' as to_table,
        contact_fields.site_user_id as to_id,
        'b_uts_crm_contact.{{ var("bitrix_omni_contact_site_user_field") | upper }}' as evidence
    from contact_fields
    where
        contact_fields.site_user_id is not null
        and {{ bitrix_omni.in_changed_records(
            'b_crm_contact', 'contact_fields.contact_id', since
        ) }}
),

without_technical as (
    select pairs.*
    from pairs
    left join technical_users
        on
            pairs.to_table = 'b_user'
            and pairs.to_id = technical_users.user_id
    where technical_users.user_id is null
),

keyed as (
    select
        {{ identity_record_key('from_table', 'from_id') }} as record_key,
        {{ identity_record_key('to_table', 'to_id') }} as other_record_key,
        evidence,
        {{ bitrix_omni.run_stamp() }} as _changed_at
    from without_technical
)

select * from keyed
