{#-
    Why records are one customer: one row per edge of the identity graph, i.e.
    per (record, e-mail/phone) and per known link between two records, with its
    status. "Why are these two one customer?" is a query on this table. E-mails
    and phones appear only hashed and masked.

    Incremental by record (macros/incremental_scope.sql): a run rewrites only the
    edges of records whose edges, statuses or customers changed; a record that has
    no edge left gets a tombstone row that deletes its edges.
-#}
{#- PostgreSQL indexes for BI lookups; DuckDB builds none (its table swap and
    indexes do not mix, and scans are fast without them). -#}
{{ config(
    indexes=[
        {'columns': ['record_key']},
        {'columns': ['customer_uuid']},
        {'columns': ['identifier_hash']},
    ] if target.type != 'duckdb' else [],
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

links as (
    select * from {{ ref('int_identity__links') }}
),

identity_map as (
    select * from {{ ref('bl_customer_identity_map') }}
),

identifier_edges as (
    select
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
        end as edge_status
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
        end as edge_status
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
),

fingerprints as (
    {{ key_fingerprints('record_key', [
        {'relation': 'edges', 'columns': [
            'customer_uuid', 'edge_kind', 'evidence', 'identifier_hash', 'identifier_masked',
            'linked_record_key', 'edge_status',
        ]},
    ]) }}
),

scope as (
    {{ keys_to_build('record_key', 'fingerprints', vanished=true) }}
),

-- distinct: two raw spellings of one value in the same field are one edge
scoped_edges as (
    select distinct
        edges.record_key,
        edges.customer_uuid,
        edges.edge_kind,
        edges.evidence,
        edges.identifier_hash,
        edges.identifier_masked,
        edges.linked_record_key,
        edges.edge_status,
        fingerprints.input_fingerprint as _input_fingerprint
    from edges
    inner join fingerprints
        on edges.record_key = fingerprints.record_key
    where {{ in_scope('edges.record_key') }}
),

tombstones as (
    {{ tombstone_keys('record_key', 'fingerprints', {
        'customer_uuid': dbt.type_string(),
        'edge_kind': dbt.type_string(),
        'evidence': dbt.type_string(),
        'identifier_hash': dbt.type_string(),
        'identifier_masked': dbt.type_string(),
        'linked_record_key': dbt.type_string(),
        'edge_status': dbt.type_string(),
    }) }}
),

final as (
    select * from scoped_edges
    union all
    select * from tombstones
)

select * from final
