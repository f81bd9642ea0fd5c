{#-
    One number per identity record that changes whenever anything identity resolution
    reads about the record's own rows changes: its record row, its valid e-mails and
    phones, and its links in both directions. The registry keeps the fingerprint each
    record was last resolved with (plus int_identity__guard_fingerprints, the guards'
    verdicts on its values), and a run re-resolves only the customers around records
    whose fingerprint changed (bitrix_omni.scoped). It does not wait for the guards, so
    it is built while they run. The number is a sum of row hashes modulo 2^63 - 1,
    engine-specific like every row hash here.

    Incremental by record, on int_identity__record_changes (see int_identity__records),
    plus the records whose e-mails or phones the normalization cache (re)normalized after
    the newest `_normalized_through` here.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_changed_records(renormalized='identifiers') }}",
) }}
{%- set scope = bitrix_omni.record_scope(renormalized='identifiers') %}
{%- set scope_keys = bitrix_omni.scope_keys(scope) %}

with

records as not materialized (
    select * from {{ ref('int_identity__records') }}
),

identifiers as (
    select * from {{ ref('int_identity__normalized_identifiers') }}
),

links as not materialized (
    select * from {{ ref('int_identity__links') }}
),
{%- if scope is not none %}

scope as (
    {{ scope }}
),
{%- endif %}

input_rows as (
    select
        record_key,
        {{ bitrix_omni.bx_hash([
            "'record'", 'source_table', 'source_id', 'first_seen_at', 'last_seen_at',
        ]) }} as row_hash
    from records
    where {{ bitrix_omni.in_scope_cte('record_key', scope_keys) }}

    union all

    select
        record_key,
        {{ bitrix_omni.bx_hash(["'identifier'", 'identifier_kind', 'identifier_hash']) }}
            as row_hash
    from identifiers
    where is_valid and {{ bitrix_omni.in_scope_cte('record_key', scope_keys) }}

    union all

    select
        record_key,
        {{ bitrix_omni.bx_hash(["'link to'", 'other_record_key']) }} as row_hash
    from links
    where {{ bitrix_omni.in_scope_cte('record_key', scope_keys) }}

    union all

    select
        other_record_key as record_key,
        {{ bitrix_omni.bx_hash(["'link from'", 'record_key']) }} as row_hash
    from links
    where {{ bitrix_omni.in_scope_cte('other_record_key', scope_keys) }}
),

fingerprints as (
    select
        record_key,
        {{ bitrix_omni.bigint_fingerprint('row_hash') }} as input_fingerprint
    from input_rows
    group by record_key
)

select
    records.record_key,
    fingerprints.input_fingerprint,
    {{ bitrix_omni.record_position([
        'int_identity__records', 'int_identity__normalized_identifiers', 'int_identity__links',
    ]) }} as _changed_at,
    {{ bitrix_omni.normalized_through('int_identity__normalized_identifiers') }}
        as _normalized_through,
    {{ bitrix_omni.run_stamp() }} as _built_at
from records
inner join fingerprints
    on records.record_key = fingerprints.record_key
where {{ bitrix_omni.in_scope_cte('records.record_key', scope_keys) }}
