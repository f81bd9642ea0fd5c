{#- One row of figures about the identity graph; its tests fail on absurd values. -#}
with

identity_map as (
    select * from {{ ref('bl_customer_identity_map') }}
),

evidence as (
    select * from {{ ref('bl_customer_identity_evidence') }}
),

guarded as (
    select * from {{ ref('int_identity__guarded_identifiers') }}
),

customer_sizes as (
    select
        customer_uuid,
        count(*) as customer_records
    from identity_map
    group by 1
),

customer_figures as (
    select
        cast(coalesce(sum(customer_records), 0) as bigint) as records,
        count(*) as customers,
        cast(
            coalesce(sum(case when customer_records = 1 then 1 else 0 end), 0) as bigint
        ) as singletons,
        coalesce(max(customer_records), 0) as largest_customer_records
    from customer_sizes
),

edge_figures as (
    select
        count(
            distinct case
                when edge_kind <> 'link' and edge_status = 'used' then identifier_hash
            end
        ) as identifiers_used,
        coalesce(sum(case when edge_status = 'invalid' then 1 else 0 end), 0)
            as invalid_identifier_rows,
        coalesce(
            sum(case when edge_kind = 'link' and edge_status = 'dangling' then 1 else 0 end),
            0
        ) as dangling_links
    from evidence
),

guard_figures as (
    select
        coalesce(sum(case when reason = 'blocklisted' then 1 else 0 end), 0)
            as identifiers_blocklisted,
        coalesce(sum(case when reason = 'over_shared' then 1 else 0 end), 0)
            as identifiers_over_shared
    from guarded
),

health as (
    select
        customer_figures.records,
        customer_figures.customers,
        customer_figures.singletons,
        customer_figures.largest_customer_records,
        case
            when customer_figures.records > 0
                then
                    cast(customer_figures.largest_customer_records as {{ dbt.type_numeric() }})
                    / customer_figures.records
        end as largest_customer_share,
        case
            when customer_figures.customers > 0
                then
                    cast(customer_figures.records as {{ dbt.type_numeric() }})
                    / customer_figures.customers
        end as mean_records_per_customer,
        cast(edge_figures.identifiers_used as bigint) as identifiers_used,
        cast(edge_figures.invalid_identifier_rows as bigint) as invalid_identifier_rows,
        cast(edge_figures.dangling_links as bigint) as dangling_links,
        cast(guard_figures.identifiers_blocklisted as bigint) as identifiers_blocklisted,
        cast(guard_figures.identifiers_over_shared as bigint) as identifiers_over_shared
    from customer_figures
    cross join edge_figures
    cross join guard_figures
)

select * from health
