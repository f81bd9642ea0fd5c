{#-
    The e-mails and phones of identity records with their normalized form, hash and
    mask, looked up in the normalization cache. A value that is not an identifier
    (invalid, placeholder, blank) has is_valid = false and no normalized value.

    Incremental by record, on int_identity__record_changes (see int_identity__records),
    plus the records with a value the cache (re)normalized after the newest
    `_normalized_through` here (a new normalizer restamps every value). `_source_row_hash`
    is the hash of the int_identity__identifiers row a row comes from.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_changed_records(renormalized='values') }}",
) }}
{%- set scope = bitrix_omni.record_scope(renormalized='values') %}
{%- set scope_keys = bitrix_omni.scope_keys(scope) %}

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

{%- if scope is not none %}

scope as (
    {{ scope }}
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
        identifiers._source_row_hash,
        {{ bitrix_omni.record_position(['int_identity__identifiers']) }} as _changed_at,
        {{ bitrix_omni.normalized_through('int_identity__normalized_values') }}
            as _normalized_through,
        {{ bitrix_omni.run_stamp() }} as _built_at
    from identifiers
    left join normalized_values
        on
            identifiers.identifier_kind = normalized_values.identifier_kind
            and identifiers.value_raw = normalized_values.value_raw
    where {{ bitrix_omni.in_scope_cte('identifiers.record_key', scope_keys) }}
)

select * from normalized
