{#-
    E-mail campaign events carry an address, not a record id: each distinct raw address
    of campaign contacts and ESP events with its normalized e-mail and hash, so that the
    journey finds the customer behind each event.
-#}

with

addresses as (
    select * from {{ ref('int_identity__campaign_addresses') }}
),

normalized_values as (
    select * from {{ ref('int_identity__normalized_values') }}
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
