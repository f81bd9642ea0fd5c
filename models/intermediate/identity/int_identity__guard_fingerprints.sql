{#-
    The guards' verdicts on each record's values as one number, for the records holding
    a value the guards keep out of the graph (blocklisted or over-shared); other records
    have no row (their number is 0). A value that becomes over-shared, or stops being
    so, changes the number of every record holding it, though none of their rows
    changed: the registry then re-resolves the customers it joins or splits. Separate
    from int_identity__record_fingerprints so that only this small step waits for the
    guards.
-#}
{{ config(materialized='table') }}

with

identifiers as (
    select * from {{ ref('int_identity__normalized_identifiers') }}
),

guarded as (
    select * from {{ ref('int_identity__guarded_identifiers') }}
),

verdicts as (
    select
        identifiers.record_key,
        {{ bitrix_omni.bx_hash([
            "'verdict'", 'identifiers.identifier_kind', 'identifiers.identifier_hash',
            'guarded.reason',
        ]) }} as row_hash
    from identifiers
    inner join guarded
        on
            identifiers.identifier_kind = guarded.identifier_kind
            and identifiers.identifier_hash = guarded.identifier_hash
    where identifiers.is_valid
)

select
    record_key,
    {{ bitrix_omni.bigint_fingerprint('row_hash') }} as guard_fingerprint
from verdicts
group by record_key
