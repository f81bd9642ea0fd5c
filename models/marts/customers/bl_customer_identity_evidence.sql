{#-
    Why records are one customer: one row per edge of the identity graph, i.e.
    per (record, e-mail/phone) and per known link between two records, with its
    status. "Why are these two one customer?" is a query on this table. E-mails
    and phones appear only hashed and masked.

    Incremental by record: an edge depends on its record's identifier rows or links,
    the guards' verdict on its identifier, and the identity map of its records. A run
    rebuilds the records (all their edges, delete+insert on record_key) with an
    identifier row or link that is not one of their stored edges (or the other way
    round: that covers removed rows and changed guard verdicts) or whose map row, or
    the map row of a record they link to, changed since the newest `resolved_at` here
    (the registry stamps every change, including records that disappeared). Comparing
    the cheap inputs row by row and taking the map's changes from its stamps avoids the
    joins of millions of rows that building the edges costs. A rebuilt record without
    edges any more is sent as a row without edge_kind, so that its stale edges are
    deleted, and the post-hook removes it again.
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
    incremental_strategy='delete+insert',
    unique_key='record_key',
    on_schema_change='fail',
    post_hook=["delete from {{ this }} where edge_kind is null"],
) }}
-- depends_on: {{ ref('int_identity__customer_registry') }}
{%- set scoped = bitrix_omni.is_scoped_run('resolved_at') %}
{#- What an identifier edge's status depends on besides the identity map. -#}
{%- set identifier_row = [
    'record_key', 'edge_kind', 'evidence', 'identifier_hash', 'identifier_masked',
    'is_valid', 'guard_reason',
] %}
{%- set link_row = ['record_key', 'linked_record_key', 'evidence'] %}
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

{%- if scoped %}

registry as (
    select * from {{ ref('int_identity__customer_registry') }}
),

identifier_rows as (
    select
        identifiers.record_key,
        identifiers.identifier_kind as edge_kind,
        identifiers.evidence,
        identifiers.identifier_hash,
        identifiers.identifier_masked,
        identifiers.is_valid,
        case when identifiers.is_valid then guarded.reason end as guard_reason
    from identifiers
    left join guarded
        on
            identifiers.identifier_kind = guarded.identifier_kind
            and identifiers.identifier_hash = guarded.identifier_hash
),

current_rows as (
    select
        record_key,
        {{ bitrix_omni.bx_hash(identifier_row) }} as row_hash
    from identifier_rows

    union all

    -- link rows are unique (each comes from one staged row, keyed by its table), so
    -- comparing them as sets is exact
    select
        record_key,
        {{ bitrix_omni.bx_hash(['record_key', 'other_record_key', 'evidence']) }} as row_hash
    from links
),

-- the same values of the stored edges; a dangling edge's guard verdict is not
-- stored, so a dangling record with a guarded identifier is rebuilt every run
built_rows as (
    select
        record_key,
        {{ bitrix_omni.bx_hash(identifier_row) }} as row_hash
    from (
        select
            record_key,
            edge_kind,
            evidence,
            identifier_hash,
            identifier_masked,
            edge_status != 'invalid' as is_valid,
            case
                when edge_status not in ('used', 'invalid', 'dangling') then edge_status
            end as guard_reason
        from {{ this }}
        where edge_kind != 'link'
    ) as built_identifier_edges

    union all

    select
        record_key,
        {{ bitrix_omni.bx_hash(link_row) }} as row_hash
    from {{ this }}
    where edge_kind = 'link'
),

remapped as (
    select record_key
    from registry
    where resolved_at > {{ bitrix_omni.last_resolved_at() }}
),

scope as (
    {{ bitrix_omni.keys_with_changed_rows('current_rows', 'built_rows') }}

    union

    select record_key as scope_key
    from remapped

    union

    select links.record_key as scope_key
    from links
    inner join remapped
        on links.other_record_key = remapped.record_key
),
{%- endif %}

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
    where {{ bitrix_omni.in_scope('identifiers.record_key', 'resolved_at') }}
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
    where {{ bitrix_omni.in_scope('links.record_key', 'resolved_at') }}
),

edges as (
    select * from identifier_edges
    union all
    select * from link_edges
)

{{ bitrix_omni.rows_and_deleting_rows('edges', 'record_key', [
    'customer_uuid', 'edge_kind', 'evidence', 'identifier_hash', 'identifier_masked',
    'linked_record_key', 'edge_status', 'resolved_at',
], scoped) }}
