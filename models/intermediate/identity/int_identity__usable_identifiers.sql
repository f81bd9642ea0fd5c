{#-
    The e-mails and phones the identity graph used: valid after normalization,
    not blocklisted or over-shared, on a current record; with the record's
    customer. The one place downstream models take contact details from.

    Incremental by record, as bl_customer_identity_evidence: a run rebuilds the records
    with a valid, unguarded identifier row that is not one of their stored rows (or the
    other way round: removed values, changed guard verdicts) and the records whose map
    row changed since the newest `resolved_at` here. A rebuilt record without usable
    values any more is sent as a row without identifier_kind, so that its stale rows are
    deleted, and the post-hook removes it again.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='record_key',
    on_schema_change='fail',
    post_hook=["delete from {{ this }} where identifier_kind is null"],
) }}
-- depends_on: {{ ref('int_identity__customer_registry') }}
{%- set scoped = bitrix_omni.is_scoped_run('resolved_at') %}
{%- set value_row = [
    'record_key', 'identifier_kind', 'identifier_value', 'identifier_hash',
    'identifier_masked', 'evidence',
] %}
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

unguarded as (
    select identifiers.*
    from identifiers
    left join guarded
        on
            identifiers.identifier_kind = guarded.identifier_kind
            and identifiers.identifier_hash = guarded.identifier_hash
    where
        identifiers.is_valid
        and guarded.identifier_hash is null
),

{%- if scoped %}

registry as (
    select * from {{ ref('int_identity__customer_registry') }}
),

current_rows as (
    -- a value of a record not on the map is not stored, so such a record is rebuilt
    -- every run (records of identifier rows are on the map unless Bitrix lost them)
    select
        record_key,
        {{ bitrix_omni.bx_hash(value_row) }} as row_hash
    from unguarded
),

built_rows as (
    select
        record_key,
        {{ bitrix_omni.bx_hash(value_row) }} as row_hash
    from {{ this }}
),

scope as (
    {{ bitrix_omni.keys_with_changed_rows('current_rows', 'built_rows') }}

    union

    select record_key as scope_key
    from registry
    where resolved_at > {{ bitrix_omni.last_resolved_at() }}
),
{%- endif %}

usable as (
    select distinct
        unguarded.record_key,
        identity_map.customer_uuid,
        unguarded.identifier_kind,
        unguarded.identifier_value,
        unguarded.identifier_hash,
        unguarded.identifier_masked,
        unguarded.evidence,
        identity_map.last_seen_at,
        identity_map.resolved_at
    from unguarded
    inner join identity_map
        on unguarded.record_key = identity_map.record_key
    where {{ bitrix_omni.in_scope('unguarded.record_key', 'resolved_at') }}
)

{{ bitrix_omni.rows_and_deleting_rows('usable', 'record_key', [
    'customer_uuid', 'identifier_kind', 'identifier_value', 'identifier_hash',
    'identifier_masked', 'evidence', 'last_seen_at', 'resolved_at',
], scoped) }}
