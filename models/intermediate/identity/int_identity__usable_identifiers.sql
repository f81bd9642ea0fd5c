{#-
    The e-mails and phones the identity graph used: valid after normalization,
    not blocklisted or over-shared, on a current record; with the record's
    customer. The one place downstream models take contact details from.

    Incremental by record, as bl_customer_identity_evidence: a run rebuilds the records
    int_identity__record_changes logged after the newest `_changed_at` here, the records
    with a value the cache normalized again after the newest `_normalized_through`, and
    the records whose registry row was written after the newest `resolved_at` here (the
    registry rewrites a record on any change of its customer and on a new guard verdict
    on one of its values); its pre-hook deletes their rows first (macros/record_changes.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_changed_records(
        renormalized='identifiers', remapped=true) }}",
) }}
-- depends_on: {{ ref('int_identity__customer_registry') }}
{%- set scope = bitrix_omni.record_scope(renormalized='identifiers', remapped=true) %}
{%- set scope_keys = bitrix_omni.scope_keys(scope) %}
with

{%- if scope is not none %}

scope as (
    {{ scope }}
),
{%- endif %}

-- the scope's filter on the scan itself (after the joins it would come too late)
identifiers as (
    select * from {{ ref('int_identity__normalized_identifiers') }}
    where {{ bitrix_omni.in_scope_cte('record_key', scope_keys) }}
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
)

select
    *,
    {{ bitrix_omni.record_position(['int_identity__normalized_identifiers']) }} as _changed_at,
    {{ bitrix_omni.normalized_through('int_identity__normalized_identifiers') }}
        as _normalized_through,
    {{ bitrix_omni.run_stamp() }} as _built_at
from usable
