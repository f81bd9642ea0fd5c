{#-
    The e-mails and phones the identity graph used: valid after normalization,
    not blocklisted or over-shared, on a current record; with the record's
    customer. The one place downstream models take contact details from.
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

usable as (
    select distinct
        identifiers.record_key,
        identity_map.customer_uuid,
        identifiers.identifier_kind,
        identifiers.identifier_value,
        identifiers.identifier_hash,
        identifiers.identifier_masked,
        identifiers.evidence,
        identity_map.last_seen_at
    from identifiers
    inner join identity_map
        on identifiers.record_key = identity_map.record_key
    left join guarded
        on
            identifiers.identifier_kind = guarded.identifier_kind
            and identifiers.identifier_hash = guarded.identifier_hash
    where
        identifiers.is_valid
        and guarded.identifier_hash is null
)

select * from usable
