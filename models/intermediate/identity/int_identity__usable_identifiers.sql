{#-
    The e-mails and phones the identity graph used: valid after normalization,
    not blocklisted or over-shared, on a current record; with the record's
    customer. The one place downstream models take contact details from.

    Incremental by record (macros/incremental_scope.sql): a run rewrites only the
    records whose usable values, customer or last-seen time changed; a record that
    has none left gets a tombstone row that deletes its rows.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='record_key',
    on_schema_change='fail',
    post_hook="{{ bitrix_omni.delete_tombstones() }}",
) }}
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

usable_rows as (
    select
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
),

fingerprints as (
    {{ key_fingerprints('record_key', [
        {'relation': 'usable_rows', 'columns': [
            'customer_uuid', 'identifier_kind', 'identifier_value', 'identifier_hash',
            'identifier_masked', 'evidence', 'last_seen_at',
        ]},
    ]) }}
),

scope as (
    {{ keys_to_build('record_key', 'fingerprints', vanished=true) }}
),

usable as (
    select distinct
        usable_rows.record_key,
        usable_rows.customer_uuid,
        usable_rows.identifier_kind,
        usable_rows.identifier_value,
        usable_rows.identifier_hash,
        usable_rows.identifier_masked,
        usable_rows.evidence,
        usable_rows.last_seen_at,
        fingerprints.input_fingerprint as _input_fingerprint
    from usable_rows
    inner join fingerprints
        on usable_rows.record_key = fingerprints.record_key
    where {{ in_scope('usable_rows.record_key') }}
),

tombstones as (
    {{ tombstone_keys('record_key', 'fingerprints', {
        'customer_uuid': dbt.type_string(),
        'identifier_kind': dbt.type_string(),
        'identifier_value': dbt.type_string(),
        'identifier_hash': dbt.type_string(),
        'identifier_masked': dbt.type_string(),
        'evidence': dbt.type_string(),
        'last_seen_at': dbt.type_timestamp(),
    }) }}
),

final as (
    select * from usable
    union all
    select * from tombstones
)

select * from final
