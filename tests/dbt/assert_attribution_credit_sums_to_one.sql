{#-
    Every non-canceled order gets exactly one unit of credit under every
    attribution model: returns (order, model) pairs whose credits do not sum to
    1 within 1e-9, including orders missing from bl_order_attribution.

    Reads the orders of the customers whose timeline or attribution rows were
    written since the test last passed (macros/test_scope.sql): both models
    rewrite every row of a customer they rebuild; everything under
    `bitrix_omni_test_scope: all`.
-#}
{{ config(meta={'bitrix_omni_scoped_test': true}) }}
{%- set touchpoints_written = bitrix_omni.singular_test_written('int_journeys__touchpoints') %}
{%- set attribution_written = bitrix_omni.singular_test_written('bl_order_attribution') %}
{%- set scoped = touchpoints_written is not none and attribution_written is not none %}
{%- set in_written = 'customer_uuid in (select written_customers.customer_uuid'
    ~ ' from written_customers)' if scoped else 'true' %}
with

order_attribution as not materialized (
    select * from {{ ref('bl_order_attribution') }}
),

touchpoints as not materialized (
    select * from {{ ref('int_journeys__touchpoints') }}
),

{%- if scoped %}

written_customers as (
    select touchpoints.customer_uuid
    from touchpoints
    where {{ touchpoints_written }}

    union

    select order_attribution.customer_uuid
    from order_attribution
    where {{ attribution_written }}
),
{%- endif %}

orders as (
    select distinct source_id as order_id
    from touchpoints
    where
        touchpoint_type = 'order'
        and source_table = 'b_sale_order'
        and {{ in_written }}
),

attribution_models as (
    select distinct attribution_model
    from order_attribution
),

credit_sums as (
    select
        order_id,
        attribution_model,
        sum(credit) as total_credit
    from order_attribution
    where {{ in_written }}
    group by 1, 2
),

expected_pairs as (
    select
        orders.order_id,
        attribution_models.attribution_model
    from orders
    cross join attribution_models
),

failures as (
    select
        expected_pairs.order_id,
        expected_pairs.attribution_model,
        coalesce(credit_sums.total_credit, 0) as total_credit
    from expected_pairs
    left join credit_sums
        on
            expected_pairs.order_id = credit_sums.order_id
            and expected_pairs.attribution_model = credit_sums.attribution_model
    where abs(coalesce(credit_sums.total_credit, 0) - 1) > 1e-9
)

select * from failures
