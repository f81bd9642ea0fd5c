{#-
    Every touchpoint of the journeys, keyed by the identity record it belongs to, before
    any customer is known: UTM marks captured at registration/login, CRM UTM marks, CRM
    sources of contacts/leads/deals, CRM activities (calls, chats, e-mails, forms), e-mail
    campaign events (sender module opens/clicks, ESP webhooks) and orders (conversions).
    E-mail events carry the normalized address's hash (and the recipient's site user when
    the sender row names one). Depends on staging and the normalization cache only, so it
    is built while identity resolution runs; int_journeys__touchpoints attaches customers.

    Incremental by row hash (rows_changed_by_hash in macros/incremental_scope.sql): every
    run computes all touchpoints, which is quick, but writes only the rows that are new or
    changed, and deletes the rows that are gone; writing millions of rows whole every hour
    cost more than computing them.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='_row_hash',
    on_schema_change='fail',
    post_hook=["delete from {{ this }} where source_table is null"],
) }}
with

users as (
    select * from {{ ref('stg_bitrix__users') }}
),

user_fields as (
    select * from {{ ref('stg_bitrix__user_fields') }}
),

orders as (
    select * from {{ ref('stg_bitrix__orders') }}
),

contacts as not materialized (
    select * from {{ ref('stg_bitrix__crm_contacts') }}
),

leads as not materialized (
    select * from {{ ref('stg_bitrix__crm_leads') }}
),

deals as not materialized (
    select * from {{ ref('stg_bitrix__crm_deals') }}
),

crm_utm as (
    select * from {{ ref('int_journeys__crm_utm') }}
),

activities as (
    select * from {{ ref('stg_bitrix__crm_activities') }}
),

activity_bindings as (
    select * from {{ ref('stg_bitrix__crm_activity_bindings') }}
),

sender_recipients as (
    select * from {{ ref('stg_bitrix__sender_recipients') }}
),

sender_contacts as (
    select * from {{ ref('stg_bitrix__sender_contacts') }}
),

sender_reads as (
    select * from {{ ref('stg_bitrix__sender_reads') }}
),

sender_clicks as (
    select * from {{ ref('stg_bitrix__sender_clicks') }}
),

email_events as (
    select * from {{ ref('stg_bitrix__email_events') }}
),

contact_addresses as not materialized (
    select * from {{ ref('int_identity__contact_addresses') }}
),

utm_channels as (
    select * from {{ ref('int_journeys__utm_channels') }}
),

crm_source_channels as (
    select * from {{ ref('crm_source_channels') }}
),

crm_activity_channels as (
    select * from {{ ref('crm_activity_channels') }}
),

-- CRM owners (lead 1, deal 2, contact 3) as identity records; a deal is its
-- contact's, else its lead's
crm_owner_records as (
    select
        1 as owner_type_id,
        lead_id as owner_id,
        'b_crm_lead:' || cast(lead_id as {{ dbt.type_string() }}) as record_key,
        created_at
    from leads
    union all
    select
        3 as owner_type_id,
        contact_id as owner_id,
        'b_crm_contact:' || cast(contact_id as {{ dbt.type_string() }}) as record_key,
        created_at
    from contacts
    union all
    select
        2 as owner_type_id,
        deal_id as owner_id,
        case
            when contact_id is not null
                then 'b_crm_contact:' || cast(contact_id as {{ dbt.type_string() }})
            when lead_id is not null
                then 'b_crm_lead:' || cast(lead_id as {{ dbt.type_string() }})
        end as record_key,
        created_at
    from deals
),

user_utm_touchpoints as (
    select
        'b_user:' || cast(users.user_id as {{ dbt.type_string() }}) as record_key,
        users.registered_at as occurred_at,
        'site_utm' as touchpoint_type,
        user_fields.utm_source,
        user_fields.utm_medium,
        user_fields.utm_campaign,
        cast(null as {{ dbt.type_string() }}) as crm_source_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_detail,
        'b_uts_user' as source_table,
        user_fields.user_id as source_id,
        cast(null as {{ dbt.type_numeric() }}) as revenue
    from user_fields
    inner join users
        on user_fields.user_id = users.user_id
    where not users.is_technical
),

crm_utm_touchpoints as (
    select
        crm_owner_records.record_key,
        crm_owner_records.created_at as occurred_at,
        'crm_utm' as touchpoint_type,
        crm_utm.utm_source,
        crm_utm.utm_medium,
        crm_utm.utm_campaign,
        cast(null as {{ dbt.type_string() }}) as crm_source_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_detail,
        case crm_utm.entity_type_id
            when 1 then 'b_crm_lead'
            when 2 then 'b_crm_deal'
            when 3 then 'b_crm_contact'
        end as source_table,
        crm_utm.entity_id as source_id,
        cast(null as {{ dbt.type_numeric() }}) as revenue
    from crm_utm
    inner join crm_owner_records
        on
            crm_utm.entity_type_id = crm_owner_records.owner_type_id
            and crm_utm.entity_id = crm_owner_records.owner_id
),

crm_source_touchpoints as (
    select
        'b_crm_lead:' || cast(lead_id as {{ dbt.type_string() }}) as record_key,
        created_at as occurred_at,
        'crm_lead_source' as touchpoint_type,
        source_id,
        lead_id as entity_id,
        'b_crm_lead' as source_table
    from leads
    where source_id is not null
    union all
    select
        'b_crm_contact:' || cast(contact_id as {{ dbt.type_string() }}) as record_key,
        created_at as occurred_at,
        'crm_contact_source' as touchpoint_type,
        source_id,
        contact_id as entity_id,
        'b_crm_contact' as source_table
    from contacts
    where source_id is not null
    union all
    select
        crm_owner_records.record_key,
        deals.created_at as occurred_at,
        'crm_deal_source' as touchpoint_type,
        deals.source_id,
        deals.deal_id as entity_id,
        'b_crm_deal' as source_table
    from deals
    inner join crm_owner_records
        on
            crm_owner_records.owner_type_id = 2
            and deals.deal_id = crm_owner_records.owner_id
    where deals.source_id is not null
),

crm_source_ids as (
    select distinct source_id
    from crm_source_touchpoints
),

-- each distinct CRM source classified once (a pattern join per row would grow with the
-- number of leads, contacts and deals): the first channel by name whose pattern
-- matches, none -> NULL
crm_source_classes as (
    select
        crm_source_ids.source_id,
        min(crm_source_channels.channel) as channel
    from crm_source_ids
    left join crm_source_channels
        on {{ regex_matches('crm_source_ids.source_id', 'crm_source_channels.source_pattern') }}
    group by 1
),

crm_source_matches as (
    select
        crm_source_touchpoints.*,
        crm_source_classes.channel
    from crm_source_touchpoints
    inner join crm_source_classes
        on crm_source_touchpoints.source_id = crm_source_classes.source_id
),

activity_touchpoints as (
    select distinct
        crm_owner_records.record_key,
        coalesce(activities.started_at, activities.created_at) as occurred_at,
        crm_activity_channels.touchpoint_type,
        crm_activity_channels.channel,
        case activities.direction_id
            when 1 then 'incoming'
            when 2 then 'outgoing'
        end as touchpoint_detail,
        activities.activity_id as source_id
    from activities
    inner join crm_activity_channels
        on activities.provider_id = crm_activity_channels.provider_id
    inner join activity_bindings
        on activities.activity_id = activity_bindings.activity_id
    inner join crm_owner_records
        on
            activity_bindings.owner_type_id = crm_owner_records.owner_type_id
            and activity_bindings.owner_id = crm_owner_records.owner_id
),

sender_events as (
    select
        sender_reads.recipient_id,
        sender_reads.read_at as occurred_at,
        'email_open' as touchpoint_type,
        cast(null as {{ dbt.type_string() }}) as url,
        'b_sender_posting_read' as source_table,
        sender_reads.read_id as source_id
    from sender_reads
    union all
    select
        sender_clicks.recipient_id,
        sender_clicks.clicked_at as occurred_at,
        'email_click' as touchpoint_type,
        sender_clicks.url,
        'b_sender_posting_click' as source_table,
        sender_clicks.click_id as source_id
    from sender_clicks
),

-- the recipient's site user, when the sender row names one, else the address
sender_touchpoints as (
    select
        sender_events.occurred_at,
        sender_events.touchpoint_type,
        sender_events.source_table,
        sender_events.source_id,
        'b_user:' || cast(
            coalesce(sender_recipients.user_id, sender_contacts.user_id)
            as {{ dbt.type_string() }}
        ) as record_key,
        contact_addresses.email_hash,
        'posting ' || cast(sender_recipients.posting_id as {{ dbt.type_string() }})
            as touchpoint_detail
    from sender_events
    inner join sender_recipients
        on sender_events.recipient_id = sender_recipients.recipient_id
    left join sender_contacts
        on sender_recipients.sender_contact_id = sender_contacts.sender_contact_id
    left join contact_addresses
        on sender_contacts.address_raw = contact_addresses.address_raw
),

esp_touchpoints as (
    select
        email_events.occurred_at,
        'email_' || email_events.event_type as touchpoint_type,
        'bl_email_events' as source_table,
        email_events.email_event_id as source_id,
        cast(null as {{ dbt.type_string() }}) as record_key,
        contact_addresses.email_hash,
        email_events.esp || ' ' || coalesce(email_events.campaign_id, '') as touchpoint_detail
    from email_events
    inner join contact_addresses
        on email_events.email_raw = contact_addresses.address_raw
),

order_touchpoints as (
    select
        'b_sale_order:' || cast(order_id as {{ dbt.type_string() }}) as record_key,
        created_at as occurred_at,
        case when is_canceled then 'order_canceled' else 'order' end as touchpoint_type,
        order_id as source_id,
        order_total as revenue,
        status_id as touchpoint_detail
    from orders
),

utm_touchpoints as (
    select * from user_utm_touchpoints
    union all
    select * from crm_utm_touchpoints
),

record_touchpoints as (
    select
        utm_touchpoints.record_key,
        utm_touchpoints.occurred_at,
        coalesce(utm_channels.channel, 'direct') as channel,
        utm_touchpoints.touchpoint_type,
        utm_touchpoints.utm_source,
        utm_touchpoints.utm_medium,
        utm_touchpoints.utm_campaign,
        utm_touchpoints.crm_source_id,
        utm_touchpoints.touchpoint_detail,
        utm_touchpoints.source_table,
        utm_touchpoints.source_id,
        utm_touchpoints.revenue
    from utm_touchpoints
    left join utm_channels
        on
            lower(trim(coalesce(utm_touchpoints.utm_source, ''))) = utm_channels.utm_source_key
            and lower(trim(coalesce(utm_touchpoints.utm_medium, '')))
            = utm_channels.utm_medium_key

    union all

    select
        record_key,
        occurred_at,
        coalesce(channel, 'unassigned') as channel,
        touchpoint_type,
        cast(null as {{ dbt.type_string() }}) as utm_source,
        cast(null as {{ dbt.type_string() }}) as utm_medium,
        cast(null as {{ dbt.type_string() }}) as utm_campaign,
        source_id as crm_source_id,
        cast(null as {{ dbt.type_string() }}) as touchpoint_detail,
        source_table,
        entity_id as source_id,
        cast(null as {{ dbt.type_numeric() }}) as revenue
    from crm_source_matches

    union all

    select
        record_key,
        occurred_at,
        channel,
        touchpoint_type,
        cast(null as {{ dbt.type_string() }}) as utm_source,
        cast(null as {{ dbt.type_string() }}) as utm_medium,
        cast(null as {{ dbt.type_string() }}) as utm_campaign,
        cast(null as {{ dbt.type_string() }}) as crm_source_id,
        touchpoint_detail,
        'b_crm_act' as source_table,
        source_id,
        cast(null as {{ dbt.type_numeric() }}) as revenue
    from activity_touchpoints

    union all

    select
        record_key,
        occurred_at,
        'online_store' as channel,
        touchpoint_type,
        cast(null as {{ dbt.type_string() }}) as utm_source,
        cast(null as {{ dbt.type_string() }}) as utm_medium,
        cast(null as {{ dbt.type_string() }}) as utm_campaign,
        cast(null as {{ dbt.type_string() }}) as crm_source_id,
        touchpoint_detail,
        'b_sale_order' as source_table,
        source_id,
        revenue
    from order_touchpoints
),

email_touchpoints as (
    select * from sender_touchpoints
    union all
    select * from esp_touchpoints
),

final as (
    select
        record_key,
        cast(null as {{ dbt.type_string() }}) as email_hash,
        occurred_at,
        channel,
        touchpoint_type,
        utm_source,
        utm_medium,
        utm_campaign,
        crm_source_id,
        touchpoint_detail,
        source_table,
        source_id,
        revenue
    from record_touchpoints
    where occurred_at is not null

    union all

    select
        record_key,
        email_hash,
        occurred_at,
        'email' as channel,
        touchpoint_type,
        cast(null as {{ dbt.type_string() }}) as utm_source,
        cast(null as {{ dbt.type_string() }}) as utm_medium,
        cast(null as {{ dbt.type_string() }}) as utm_campaign,
        cast(null as {{ dbt.type_string() }}) as crm_source_id,
        touchpoint_detail,
        source_table,
        source_id,
        cast(null as {{ dbt.type_numeric() }}) as revenue
    from email_touchpoints
    where
        occurred_at is not null
        and (record_key is not null or email_hash is not null)
)

{{ bitrix_omni.rows_changed_by_hash('final', [
    'record_key', 'email_hash', 'occurred_at', 'channel', 'touchpoint_type', 'utm_source',
    'utm_medium', 'utm_campaign', 'crm_source_id', 'touchpoint_detail', 'source_table',
    'source_id', 'revenue',
]) }}
