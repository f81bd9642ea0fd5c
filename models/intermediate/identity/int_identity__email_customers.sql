{#-
    Normalized e-mail (by hash) -> the customer using it, for matching e-mail
    campaign events to customers. Guarded e-mails (placeholders, over-shared)
    match nobody; an e-mail that still maps to several customers is ambiguous
    and matches nobody either.
-#}
with

usable_identifiers as (
    select * from {{ ref('int_identity__usable_identifiers') }}
),

email_owners as (
    select distinct
        identifier_hash as email_hash,
        customer_uuid
    from usable_identifiers
    where identifier_kind = 'email'
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
