{#-
    The e-mails and phones of identity records with their normalized form, hash and
    mask, looked up in the normalization cache. A value that is not an identifier
    (invalid, placeholder, blank) has is_valid = false and no normalized value.

    Incremental by record: every row keeps `_source_row_hash`, the hash of the
    int_identity__identifiers row it comes from. A run rebuilds (delete+insert on
    record_key) the records with an identifier row whose hash is not stored, or a stored
    hash that is no longer an identifier row, and the records using a value the cache
    (re)normalized after the newest `normalized_at` here (a new normalizer restamps every
    value). A rebuilt record without identifier rows any more is sent as a row without
    identifier_kind, so that its stale rows are deleted, and the post-hook removes it.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='record_key',
    on_schema_change='fail',
    post_hook=["delete from {{ this }} where identifier_kind is null"],
) }}
{%- set scoped = bitrix_omni.is_scoped_run('_source_row_hash') %}

with

identifiers as (
    select
        *,
        {{ bitrix_omni.bx_hash(['record_key', 'identifier_kind', 'value_raw', 'evidence']) }}
            as _source_row_hash
    from {{ ref('int_identity__identifiers') }}
),

normalized_values as (
    select * from {{ ref('int_identity__normalized_values') }}
),

{%- if scoped %}

current_rows as (
    select
        record_key,
        _source_row_hash as row_hash
    from identifiers
),

built_rows as (
    select
        record_key,
        _source_row_hash as row_hash
    from {{ this }}
),

renormalized as (
    select
        identifier_kind,
        value_raw
    from normalized_values
    where normalized_at > (
        select coalesce(max(built.normalized_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
        from {{ this }} as built
    )
),

scope as (
    {{ bitrix_omni.keys_with_changed_rows('current_rows', 'built_rows') }}

    union

    select identifiers.record_key as scope_key
    from identifiers
    inner join renormalized
        on
            identifiers.identifier_kind = renormalized.identifier_kind
            and identifiers.value_raw = renormalized.value_raw
),
{%- endif %}

normalized as (
    select
        identifiers.record_key,
        identifiers.identifier_kind,
        identifiers.evidence,
        normalized_values.identifier_value,
        normalized_values.identifier_hash,
        normalized_values.identifier_masked,
        coalesce(normalized_values.is_valid, false) as is_valid,
        normalized_values.normalized_at,
        identifiers._source_row_hash
    from identifiers
    left join normalized_values
        on
            identifiers.identifier_kind = normalized_values.identifier_kind
            and identifiers.value_raw = normalized_values.value_raw
    where {{ bitrix_omni.in_scope('identifiers.record_key', '_source_row_hash') }}
)

{{ bitrix_omni.rows_and_deleting_rows('normalized', 'record_key', [
    'identifier_kind', 'evidence', 'identifier_value', 'identifier_hash',
    'identifier_masked', 'is_valid', 'normalized_at', '_source_row_hash',
], scoped) }}
