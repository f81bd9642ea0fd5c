{#-
    Why records are one customer: one row per edge of the identity graph, i.e.
    per (record, e-mail/phone) and per known link between two records, with its
    status. "Why are these two one customer?" is a query on this table. E-mails
    and phones appear only hashed and masked.

    Incremental by record: an edge depends on its record's identifier rows or links,
    the guards' verdict on its identifier, and the identity map of its records. A run
    rebuilds (its pre-hook deletes, then it appends) the records
    int_identity__record_changes logged after the newest `_changed_at` here (their
    identifier rows or links changed), the records with a value the cache normalized
    again after the newest `_normalized_through`, and the records whose map row, or the
    map row of a record they link to, was written after the newest `resolved_at` here
    (the registry stamps every change: a new customer, a new guard verdict on one of the
    record's values, a record gone). A dangling record (no map row) shows no guard
    verdict, so verdict changes reach every edge that shows one through the registry.
-#}
{#- PostgreSQL indexes for BI lookups; DuckDB builds none (its table swap and
    indexes do not mix, and scans are fast without them). -#}
{{ config(
    indexes=[
        {'columns': ['record_key']},
        {'columns': ['customer_uuid']},
        {'columns': ['identifier_hash']},
    ] if target.type != 'duckdb' else [],
) }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_changed_records(
        renormalized='identifiers', remapped=true, linked=true) }}",
) }}
-- depends_on: {{ ref('int_identity__customer_registry') }}
{%- set scope = bitrix_omni.record_scope(
    renormalized='identifiers', remapped=true, linked=true) %}
{%- set scope_keys = bitrix_omni.scope_keys(scope) %}
with

{%- if scope is not none %}

scope as (
    {{ scope }}
),
{%- endif %}

-- the scope's filter on the scans themselves (after the joins it would come too late)
identifiers as (
    select * from {{ ref('int_identity__normalized_identifiers') }}
    where {{ bitrix_omni.in_scope_cte('record_key', scope_keys) }}
),

guarded as (
    select * from {{ ref('int_identity__guarded_identifiers') }}
),

links as (
    select * from {{ ref('int_identity__links') }}
    where {{ bitrix_omni.in_scope_cte('record_key', scope_keys) }}
),

identity_map as not materialized (
    select * from {{ ref('bl_customer_identity_map') }}
),

identifier_edges as (
    -- distinct: two raw spellings of one value in the same field are one edge
    select distinct
        identifiers.record_key,
        identity_map.customer_uuid,
        identifiers.identifier_kind as edge_kind,
        identifiers.evidence,
        identifiers.identifier_hash,
        identifiers.identifier_masked,
        cast(null as {{ dbt.type_string() }}) as linked_record_key,
        case
            when not identifiers.is_valid then 'invalid'
            when identity_map.record_key is null then 'dangling'
            when guarded.identifier_hash is not null then guarded.reason
            else 'used'
        end as edge_status,
        identity_map.resolved_at
    from identifiers
    left join guarded
        on
            identifiers.identifier_kind = guarded.identifier_kind
            and identifiers.identifier_hash = guarded.identifier_hash
    left join identity_map
        on identifiers.record_key = identity_map.record_key
),

link_edges as (
    select
        links.record_key,
        coalesce(identity_map.customer_uuid, linked_map.customer_uuid) as customer_uuid,
        'link' as edge_kind,
        links.evidence,
        cast(null as {{ dbt.type_string() }}) as identifier_hash,
        cast(null as {{ dbt.type_string() }}) as identifier_masked,
        links.other_record_key as linked_record_key,
        case
            when identity_map.record_key is null or linked_map.record_key is null
                then 'dangling'
            else 'used'
        end as edge_status,
        identity_map.resolved_at
    from links
    left join identity_map
        on links.record_key = identity_map.record_key
    left join identity_map as linked_map
        on links.other_record_key = linked_map.record_key
),

edges as (
    select * from identifier_edges
    union all
    select * from link_edges
)

select
    *,
    {{ bitrix_omni.record_position([
        'int_identity__normalized_identifiers', 'int_identity__links',
    ]) }} as _changed_at,
    {{ bitrix_omni.normalized_through('int_identity__normalized_identifiers') }}
        as _normalized_through,
    {{ bitrix_omni.run_stamp() }} as _built_at
from edges
