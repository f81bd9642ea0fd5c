{#-
    The log of which identity records the staged rows touch, appended one batch per run
    (`logged_at`): the record layer rebuilds only the records of the batches it has not
    seen (macros/record_changes.sql).

    Every staged row that can shape a record's rows is an *origin*; it touches its own
    record (a user, buyer, order, contact, lead) and the record at the other end of the
    link it holds (a buyer's or order's site user, a contact's lead and back, a contact's
    site user, a basket row's buyer and order, an order property value's order, a contact's
    or lead's e-mail or phone). A batch holds, for every origin re-staged since the last
    batch or gone from staging (deleted in Bitrix):
      - the records it touched as last logged (`is_current` false): its old values, which
        staging no longer has;
      - the records it touches now (`is_current` true), the state the next batch reads;
      - the records whose rows depend on it by lookup, as they are now (`is_current`
        false): for a site user, the buyers, orders and contacts linking to it (a
        technical user has no links); for an order property, the orders with a value of
        it (its flags decide e-mail or phone).
    A first build (or a rebuild: --full-refresh, another config, more than
    `bitrix_omni_record_changes_rebuild_share` of the staged rows re-staged) logs every
    origin's current records as one batch.
-#}
{#- PostgreSQL: consumers read the batches after their watermark, and a batch reads the
    last rows of its origins (DuckDB prunes by its zone maps without indexes). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ bitrix_omni.record_changes_pre_hook() }}",
    indexes=[
        {'columns': ['logged_at']},
        {'columns': ['origin_table', 'origin_id']},
    ] if target.type != 'duckdb' else [],
) }}
-- depends_on: {{ ref('stg_bitrix__deleted_keys') }}
{%- set state = bitrix_omni.record_changes_state() %}
{%- set since = none if state is none else state['since'] %}

with

users as (
    select * from {{ ref('stg_bitrix__users') }}
),

fusers as not materialized (
    select * from {{ ref('stg_bitrix__sale_fusers') }}
),

basket_items as not materialized (
    select * from {{ ref('stg_bitrix__basket_items') }}
),

orders as not materialized (
    select * from {{ ref('stg_bitrix__orders') }}
),

order_prop_values as not materialized (
    select * from {{ ref('stg_bitrix__order_prop_values') }}
),

order_props as (
    select * from {{ ref('stg_bitrix__order_props') }}
),

communications as not materialized (
    select * from {{ ref('stg_bitrix__crm_communications') }}
),

contacts as not materialized (
    select * from {{ ref('stg_bitrix__crm_contacts') }}
),

leads as not materialized (
    select * from {{ ref('stg_bitrix__crm_leads') }}
),

contact_fields as not materialized (
    select * from {{ ref('stg_bitrix__crm_contact_fields') }}
),

{%- if since is not none %}

-- origins staged since the last batch
restaged as (
    {{ bitrix_omni.record_changes_restaged(since) }}
),

-- origins deleted since the last batch: the keys staging deleted (its tombstones), and the
-- logged origins missing from a staging table rebuilt whole since (no tombstones then)
gone as (
    select
        deleted.raw_table as origin_table,
        cast(deleted.deleted_key as {{ dbt.type_bigint() }}) as origin_id
    from {{ ref('stg_bitrix__deleted_keys') }} as deleted
    where
        deleted.deleted_at > {{ since }}
        and deleted.raw_table in ({{ bitrix_omni.sql_list(
            bitrix_omni.record_change_origins() | map(attribute='table') | list
        ) }})
    {%- for origin in state['rebuilt'] %}

    union all

    select
        logged.origin_table,
        logged.origin_id
    from {{ this }} as logged
    where
        logged.origin_table = '{{ origin["table"] }}'
        and logged.is_current
        and not exists (
            select 1
            from {{ ref(origin['model']) }} as staged
            where staged.{{ origin['key'] }} = logged.origin_id
        )
    {%- endfor %}
),

candidates as (
    select
        origin_table,
        origin_id
    from restaged
    union
    select
        origin_table,
        origin_id
    from gone
),

-- what the candidates touched in their last batch
last_logged as (
    select
        logged.origin_table,
        logged.origin_id,
        logged.record_table,
        logged.record_id,
        logged.is_current,
        logged.logged_at,
        max(logged.logged_at) over (
            partition by logged.origin_table, logged.origin_id
        ) as last_logged_at
    from {{ this }} as logged
    inner join candidates
        on
            logged.origin_table = candidates.origin_table
            and logged.origin_id = candidates.origin_id
),

last_current as (
    select
        origin_table,
        origin_id,
        record_table,
        record_id
    from last_logged
    where is_current and logged_at = last_logged_at
),

-- re-staged origins, and gone origins not yet logged as gone
changed as (
    select
        origin_table,
        origin_id
    from restaged
    union
    select
        gone.origin_table,
        gone.origin_id
    from gone
    inner join last_current
        on
            gone.origin_table = last_current.origin_table
            and gone.origin_id = last_current.origin_id
),
{%- endif %}

-- the origins (only the changed ones in an incremental run) and the records they touch
touched as (
    {{ bitrix_omni.record_changes_touched(since) }}
),

batch as (
    select
        origin_table,
        origin_id,
        record_table,
        record_id,
        true as is_current
    from touched
    {%- if since is not none %}

    union all

    select
        origin_table,
        origin_id,
        record_table,
        record_id,
        false as is_current
    from last_current

    union all

    -- lookups: the records linking to a changed site user (technical users have no
    -- links), the orders with a value of a changed order property (its flags)
    {{ bitrix_omni.record_changes_lookups() }}
    {%- endif %}
)

select
    origin_table,
    origin_id,
    record_table,
    record_id,
    is_current,
    {{ bitrix_omni.run_stamp() }} as logged_at,
    '{{ bitrix_omni.record_changes_config_key() }}' as config_key
from batch
