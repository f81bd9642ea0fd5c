{#-
    Every distinct raw e-mail and phone the project normalizes: the values of identity
    records and the addresses of e-mail campaign contacts and ESP events. The input of
    the normalization cache (int_identity__normalized_values).
-#}

with

identifiers as (
    select * from {{ ref('int_identity__identifiers') }}
),

campaign_addresses as (
    select * from {{ ref('int_identity__campaign_addresses') }}
),

raw_values as (
    select
        identifier_kind,
        value_raw
    from identifiers

    union

    select
        'email' as identifier_kind,
        address_raw as value_raw
    from campaign_addresses
)

select
    identifier_kind,
    value_raw
from raw_values
where value_raw is not null and value_raw <> ''
