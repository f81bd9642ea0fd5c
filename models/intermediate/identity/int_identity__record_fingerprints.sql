{#-
    One number per identity record that changes whenever anything identity resolution
    reads about the record changes: its record row, its valid e-mails and phones with the
    guards' verdict on each, and its links in both directions. The registry keeps the
    fingerprint each record was last resolved with, and a run re-resolves only the
    customers around records whose fingerprint changed (bitrix_omni.scoped).

    A guard verdict is part of every holder's fingerprint: an e-mail that becomes
    over-shared (or stops being so) changes the fingerprint of each record holding it,
    so the customers it joined or will join are re-resolved too. The number is a sum of
    row hashes modulo 2^63 - 1, engine-specific like every row hash here.
-#}
{{ config(materialized='table') }}

with

records as (
    select * from {{ ref('int_identity__records') }}
),

identifiers as (
    select * from {{ ref('int_identity__normalized_identifiers') }}
),

guarded as (
    select * from {{ ref('int_identity__guarded_identifiers') }}
),

links as (
    select * from {{ ref('int_identity__links') }}
),

input_rows as (
    select
        record_key,
        {{ bitrix_omni.bx_hash([
            "'record'", 'source_table', 'source_id', 'first_seen_at', 'last_seen_at',
        ]) }} as row_hash
    from records

    union all

    select
        identifiers.record_key,
        {{ bitrix_omni.bx_hash([
            "'identifier'", 'identifiers.identifier_kind', 'identifiers.identifier_hash',
            'guarded.reason',
        ]) }} as row_hash
    from identifiers
    left join guarded
        on
            identifiers.identifier_kind = guarded.identifier_kind
            and identifiers.identifier_hash = guarded.identifier_hash
    where identifiers.is_valid

    union all

    select
        record_key,
        {{ bitrix_omni.bx_hash(["'link to'", 'other_record_key']) }} as row_hash
    from links

    union all

    select
        other_record_key as record_key,
        {{ bitrix_omni.bx_hash(["'link from'", 'record_key']) }} as row_hash
    from links
),

fingerprints as (
    select
        record_key,
        cast(sum(row_hash) % 9223372036854775807 as bigint) as input_fingerprint
    from input_rows
    group by record_key
)

select
    records.record_key,
    fingerprints.input_fingerprint
from records
inner join fingerprints
    on records.record_key = fingerprints.record_key
