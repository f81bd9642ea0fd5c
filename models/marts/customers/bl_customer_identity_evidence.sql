{#-
    Why records are one customer: one row per edge of the identity graph, i.e.
    per (record, e-mail/phone) and per known link between two records, with its
    status. "Why are these two one customer?" is a query on this table. E-mails
    and phones appear only hashed and masked.
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
)

select * from edges
