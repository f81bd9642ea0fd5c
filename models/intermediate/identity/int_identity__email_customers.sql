{#-
    Normalized e-mail (by hash) -> the customer using it, for matching e-mail
    campaign events to customers. Guarded e-mails (placeholders, over-shared)
    match nobody; an e-mail that still maps to several customers is ambiguous
    and matches nobody either.
-#}
with

identifiers as (
    select * from {{ ref('int_identity__normalized_identifiers') }}
),

guarded as (
    select * from {{ ref('int_identity__guarded_identifiers') }}
),

identity_map as (
    select * from {{ ref('int_identity__current_map') }}
),

email_owners as (
    select distinct
        identifiers.identifier_hash as email_hash,
        identity_map.customer_uuid
    from identifiers
    inner join identity_map
        on identifiers.record_key = identity_map.record_key
    left join guarded
        on
            identifiers.identifier_kind = guarded.identifier_kind
            and identifiers.identifier_hash = guarded.identifier_hash
    where
        identifiers.identifier_kind = 'email'
        and identifiers.is_valid
        and guarded.identifier_hash is null
),

unambiguous as (
    select
        email_hash,
        min(customer_uuid) as customer_uuid
    from email_owners
    group by 1
    having count(*) = 1
)

select * from unambiguous
