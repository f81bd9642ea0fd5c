{#-
    The e-mails and phones of identity records with their normalized form, hash and
    mask, looked up in the normalization cache. A value that is not an identifier
    (invalid, placeholder, blank) has is_valid = false and no normalized value.
-#}

with

identifiers as (
    select * from {{ ref('int_identity__identifiers') }}
),

normalized_values as (
    select * from {{ ref('int_identity__normalized_values') }}
)

select
    identifiers.record_key,
    identifiers.identifier_kind,
    identifiers.evidence,
    normalized_values.identifier_value,
    normalized_values.identifier_hash,
    normalized_values.identifier_masked,
    coalesce(normalized_values.is_valid, false) as is_valid
from identifiers
left join normalized_values
    on
        identifiers.identifier_kind = normalized_values.identifier_kind
        and identifiers.value_raw = normalized_values.value_raw
