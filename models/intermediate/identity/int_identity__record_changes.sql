{#-
    The log of which identity records the staged rows touch, appended one batch per run
    (`logged_at`): the record layer rebuilds only the records of the batches it has not
    seen (macros/record_changes.sql).

    Every staged row that can shape a record's rows is an *origin*; it touches its own
    record (a user, buyer, order, contact, lead) and the record at the other end of the
    link it holds (a buyer's or order's site user, a contact's lead and back, a contact's
    site user, a basket row's buyer and order, an order property value's order, a contact's
    or lead's e-mail or phone). A batch holds, for every origin re-staged since the last
    batch or gone from staging (deleted in Bitrix):
      - the records it touched as last logged (`is_current` false): its old values, which
        staging no longer has;
      - the records it touches now (`is_current` true), the state the next batch reads;
      - the records whose rows depend on it by lookup, as they are now (`is_current`
        false): for a site user, the buyers, orders and contacts linking to it (a
        technical user has no links); for an order property, the orders with a value of
        it (its flags decide e-mail or phone).
    A first build (or a rebuild: --full-refresh, another config, more than
    `bitrix_omni_record_changes_rebuild_share` of the staged rows re-staged) logs every
    origin's current records as one batch.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ bitrix_omni.record_changes_pre_hook() }}",
) }}
{%- set since = bitrix_omni.record_changes_since() %}

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

order_prop_values as (
    select * from {{ ref('stg_bitrix__order_prop_values') }}
),

order_props as (
    select * from {{ ref('stg_bitrix__order_props') }}
),

communications as (
    select * from {{ ref('stg_bitrix__crm_communications') }}
),

contacts as (
    select * from {{ ref('stg_bitrix__crm_contacts') }}
),

leads as (
    select * from {{ ref('stg_bitrix__crm_leads') }}
),

contact_fields as (
    select * from {{ ref('stg_bitrix__crm_contact_fields') }}
),

-- every staged origin and the records it touches
touched as (
    select
        'b_user' as origin_table,
        user_id as origin_id,
        _staged_at,
        'b_user' as record_table,
        user_id as record_id
    from users

    union all

    select 'b_sale_fuser', fuser_id, _staged_at, 'b_sale_fuser', fuser_id
    from fusers

    union all

    select 'b_sale_fuser', fuser_id, _staged_at, 'b_user', user_id
    from fusers
    where user_id is not null

    union all

    select 'b_sale_basket', basket_item_id, _staged_at, 'b_sale_fuser', fuser_id
    from basket_items
    where fuser_id is not null and order_id is not null

    union all

    select 'b_sale_basket', basket_item_id, _staged_at, 'b_sale_order', order_id
    from basket_items
    where fuser_id is not null and order_id is not null

    union all

    select 'b_sale_order', order_id, _staged_at, 'b_sale_order', order_id
    from orders

    union all

    select 'b_sale_order', order_id, _staged_at, 'b_user', user_id
    from orders
    where user_id is not null

    union all

    select 'b_sale_order_props_value', order_prop_value_id, _staged_at, 'b_sale_order', order_id
    from order_prop_values
    where order_id is not null

    union all

    -- an order property touches no record by itself (its values do): logged so that
    -- its deletion is seen
    select 'b_sale_order_props', order_prop_id, _staged_at, 'b_sale_order_props', order_prop_id
    from order_props

    union all

    select
        'b_crm_field_multi',
        communication_id,
        _staged_at,
        case entity_type when 'CONTACT' then 'b_crm_contact' else 'b_crm_lead' end,
        entity_id
    from communications
    where
        entity_type in ('CONTACT', 'LEAD')
        and communication_type in ('EMAIL', 'PHONE')
        and entity_id is not null

    union all

    select 'b_crm_contact', contact_id, _staged_at, 'b_crm_contact', contact_id
    from contacts

    union all

    select 'b_crm_contact', contact_id, _staged_at, 'b_crm_lead', lead_id
    from contacts
    where lead_id is not null

    union all

    select 'b_crm_lead', lead_id, _staged_at, 'b_crm_lead', lead_id
    from leads

    union all

    select 'b_crm_lead', lead_id, _staged_at, 'b_crm_contact', contact_id
    from leads
    where contact_id is not null

    union all

    select 'b_uts_crm_contact', contact_id, _staged_at, 'b_crm_contact', contact_id
    from contact_fields

    union all

    select 'b_uts_crm_contact', contact_id, _staged_at, 'b_user', site_user_id
    from contact_fields
    where site_user_id is not null
),

{%- if since is none %}

batch as (
    select
        origin_table,
        origin_id,
        record_table,
        record_id,
        true as is_current
    from touched
)

{%- else %}

-- origins staged since the last batch
restaged as (
    {%- for origin in bitrix_omni.record_change_origins() %}
    select
        '{{ origin["table"] }}' as origin_table,
        {{ origin['key'] }} as origin_id
    from {{ ref(origin['model']) }}
    where _staged_at > {{ since }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

logged as (
    select * from {{ this }}
),

-- logged origins whose staged row is gone
gone as (
    select distinct
        logged.origin_table,
        logged.origin_id
    from logged
    where
        logged.is_current
        and not exists (
            select 1
            from touched
            where
                touched.origin_table = logged.origin_table
                and touched.origin_id = logged.origin_id
        )
),

changed as (
    select origin_table, origin_id from restaged
    union
    select origin_table, origin_id from gone
),

-- what the changed origins touched as last logged
last_logged as (
    select
        logged.origin_table,
        logged.origin_id,
        logged.record_table,
        logged.record_id,
        logged.is_current,
        logged.logged_at,
        max(logged.logged_at) over (
            partition by logged.origin_table, logged.origin_id
        ) as last_logged_at
    from logged
    inner join changed
        on
            logged.origin_table = changed.origin_table
            and logged.origin_id = changed.origin_id
),

changed_users as (
    select origin_id as user_id from changed where origin_table = 'b_user'
),

changed_props as (
    select origin_id as order_prop_id from changed where origin_table = 'b_sale_order_props'
),

batch as (
    select
        origin_table,
        origin_id,
        record_table,
        record_id,
        false as is_current
    from last_logged
    where is_current and logged_at = last_logged_at

    union all

    select
        touched.origin_table,
        touched.origin_id,
        touched.record_table,
        touched.record_id,
        true as is_current
    from touched
    inner join changed
        on
            touched.origin_table = changed.origin_table
            and touched.origin_id = changed.origin_id

    union all

    -- lookups: records linking to a changed site user, orders with a value of a changed
    -- order property
    select 'b_user', fusers.user_id, 'b_sale_fuser', fusers.fuser_id, false
    from fusers
    inner join changed_users on fusers.user_id = changed_users.user_id

    union all

    select 'b_user', orders.user_id, 'b_sale_order', orders.order_id, false
    from orders
    inner join changed_users on orders.user_id = changed_users.user_id

    union all

    select 'b_user', contact_fields.site_user_id, 'b_crm_contact', contact_fields.contact_id, false
    from contact_fields
    inner join changed_users on contact_fields.site_user_id = changed_users.user_id

    union all

    select
        'b_sale_order_props',
        order_prop_values.order_prop_id,
        'b_sale_order',
        order_prop_values.order_id,
        false
    from order_prop_values
    inner join changed_props on order_prop_values.order_prop_id = changed_props.order_prop_id
    where order_prop_values.order_id is not null
)

{%- endif %}

select
    origin_table,
    origin_id,
    record_table,
    record_id,
    is_current,
    {{ bitrix_omni.run_stamp() }} as logged_at,
    '{{ bitrix_omni.record_changes_config_key() }}' as config_key
from batch
