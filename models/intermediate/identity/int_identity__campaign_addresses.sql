{{ config(materialized='view') }}

{#-
    Every distinct raw address that e-mail campaigns know: campaign contacts of the
    e-mail type (b_sender_contact.TYPE_ID = 1) and the recipients of ESP webhook
    events. Campaign events carry an address, not a record id; the normalization
    cache and the address lookup both start from this list.
-#}

with

sender_contacts as (
    select * from {{ ref('stg_bitrix__sender_contacts') }}
),

email_events as (
    select * from {{ ref('stg_bitrix__email_events') }}
),

addresses as (
    select address_raw
    from sender_contacts
    where contact_type_id = 1

    union

    select email_raw as address_raw
    from email_events
)

select address_raw
from addresses
where address_raw is not null and address_raw <> ''
