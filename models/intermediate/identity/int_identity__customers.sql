{#-
    One row per customer with the ids and contact details the profile needs:
    the main site user, all buyer (fuser) ids, the main CRM contact, the best
    e-mail and phone, and when the customer was first and last seen.

    Incremental by customer (macros/incremental_scope.sql): a run rebuilds only the
    customers whose records or usable contacts changed.
-#}
{%- set map_columns = [
    'record_key', 'source_table', 'source_id', 'first_seen_at', 'last_seen_at',
] %}
{%- set identifier_columns = [
    'record_key', 'identifier_kind', 'identifier_value', 'evidence', 'last_seen_at',
] %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='customer_uuid',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_keys_without_inputs(
        'customer_uuid', 'int_identity__current_map') }}",
) }}
with

identity_map as not materialized (
    select * from {{ ref('int_identity__current_map') }}
),

usable_identifiers as not materialized (
    select * from {{ ref('int_identity__usable_identifiers') }}
),

fingerprints as (
    {{ key_fingerprints('customer_uuid', [
        {'relation': 'identity_map', 'columns': map_columns},
        {'relation': 'usable_identifiers', 'columns': identifier_columns},
    ]) }}
),

scope as (  -- noqa: ST03
    {{ keys_to_build('customer_uuid', 'fingerprints') }}
),

scoped_map as (
    select * from identity_map
    where {{ in_scope('customer_uuid') }}
),

scoped_identifiers as (
    select * from usable_identifiers
    where {{ in_scope('customer_uuid') }}
),

customer_spans as (
    select
        customer_uuid,
        min(first_seen_at) as first_seen_at,
        max(coalesce(last_seen_at, first_seen_at)) as last_seen_at,
        count(*) as records,
        cast(sum(case when source_table = 'b_user' then 1 else 0 end) as bigint) as site_users,
        cast(sum(case when source_table = 'b_sale_fuser' then 1 else 0 end) as bigint) as buyers,
        cast(sum(case when source_table = 'b_sale_order' then 1 else 0 end) as bigint) as orders,
        cast(
            sum(case when source_table = 'b_crm_contact' then 1 else 0 end) as bigint
        ) as crm_contacts,
        cast(sum(case when source_table = 'b_crm_lead' then 1 else 0 end) as bigint) as crm_leads,
        {{ fingerprint_part(map_columns) }} as map_fingerprint
    from scoped_map
    group by 1
),

identifier_fingerprints as (
    select
        customer_uuid,
        {{ fingerprint_part(identifier_columns) }} as identifier_fingerprint
    from scoped_identifiers
    group by 1
),

-- the earliest site user / CRM contact is the customer's main one
ranked_records as (
    select
        customer_uuid,
        source_table,
        source_id,
        row_number() over (
            partition by customer_uuid, source_table
            order by first_seen_at asc nulls last, source_id asc
        ) as source_rank
    from scoped_map
    where source_table in ('b_user', 'b_crm_contact')
),

main_ids as (
    select
        customer_uuid,
        max(case when source_table = 'b_user' then source_id end) as user_id,
        max(case when source_table = 'b_crm_contact' then source_id end) as crm_contact_id
    from ranked_records
    where source_rank = 1
    group by 1
),

fuser_lists as (
    select
        customer_uuid,
        {{ json_array_agg('source_id', 'source_id') }} as fuser_ids
    from scoped_map
    where source_table = 'b_sale_fuser'
    group by 1
),

-- best e-mail / phone: a value the graph used (not guarded), preferring what the
-- customer typed into the site profile, then CRM, then checkout; then the value
-- carried by most records; then the most recent
usable_values as (
    select
        customer_uuid,
        identifier_kind,
        identifier_value,
        min(
            case
                when evidence like 'b_user.%' then 1
                when evidence like 'b_crm_field_multi.%' then 2
                else 3
            end
        ) as source_priority,
        count(distinct record_key) as carrying_records,
        max(last_seen_at) as last_seen_at
    from scoped_identifiers
    group by 1, 2, 3
),

ranked_values as (
    select
        customer_uuid,
        identifier_kind,
        identifier_value,
        row_number() over (
            partition by customer_uuid, identifier_kind
            order by
                source_priority asc,
                carrying_records desc,
                last_seen_at desc nulls last,
                identifier_value asc
        ) as value_rank
    from usable_values
),

best_values as (
    select
        customer_uuid,
        max(case when identifier_kind = 'email' then identifier_value end) as email,
        max(case when identifier_kind = 'phone' then identifier_value end) as phone
    from ranked_values
    where value_rank = 1
    group by 1
),

customers as (
    select
        ---------- ids
        customer_spans.customer_uuid,
        main_ids.user_id,
        coalesce(fuser_lists.fuser_ids, {{ empty_json_array() }}) as fuser_ids,
        main_ids.crm_contact_id,
        ---------- strings
        best_values.email,
        best_values.phone,
        ---------- numerics
        customer_spans.records,
        customer_spans.site_users,
        customer_spans.buyers,
        customer_spans.orders,
        customer_spans.crm_contacts,
        customer_spans.crm_leads,
        ---------- timestamps
        customer_spans.first_seen_at,
        customer_spans.last_seen_at,
        ---------- incremental state
        {{ fingerprint_of([
            'customer_spans.map_fingerprint',
            'identifier_fingerprints.identifier_fingerprint',
        ]) }} as _input_fingerprint,
        {{ bitrix_omni.run_stamp() }} as _built_at
    from customer_spans
    left join identifier_fingerprints
        on customer_spans.customer_uuid = identifier_fingerprints.customer_uuid
    left join main_ids
        on customer_spans.customer_uuid = main_ids.customer_uuid
    left join fuser_lists
        on customer_spans.customer_uuid = fuser_lists.customer_uuid
    left join best_values
        on customer_spans.customer_uuid = best_values.customer_uuid
)

select * from customers
