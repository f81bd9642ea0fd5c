{#-
    E-mail campaign events carry an address, not a record id: each distinct raw address
    of campaign contacts and ESP events with its normalized e-mail and hash, so that the
    journey finds the customer behind each event.
-#}

with

sender_contacts as (
    select * from {{ ref('stg_bitrix__sender_contacts') }}
),

email_events as (
    select * from {{ ref('stg_bitrix__email_events') }}
),

normalized_values as (
    select * from {{ ref('int_identity__normalized_values') }}
),

addresses as (
    select address_raw
    from sender_contacts
    where contact_type_id = 1

    union

    select email_raw as address_raw
    from email_events
)

select
    addresses.address_raw,
    normalized_values.identifier_value as email,
    normalized_values.identifier_hash as email_hash
from addresses
inner join normalized_values
    on
        normalized_values.identifier_kind = 'email'
        and addresses.address_raw = normalized_values.value_raw
