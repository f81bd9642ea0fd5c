{#-
    Raw e-mails and phones of identity records, one row per (record, value,
    where it came from). Values are as typed; the normalization cache
    (int_identity__normalized_values) normalizes them. `evidence` names the
    Bitrix table and column.

    Incremental by record, on int_identity__record_changes (see int_identity__records).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ bitrix_omni.delete_changed_records() }}",
) }}
{%- set since = bitrix_omni.record_scope_since() %}
{%- set email_codes = var('bitrix_omni_order_email_prop_codes') -%}
{%- set phone_codes = var('bitrix_omni_order_phone_prop_codes') -%}

with

users as (
    select * from {{ ref('stg_bitrix__users') }}
    where {{ bitrix_omni.in_changed_records('b_user', 'user_id', since) }}
),

order_prop_values as (
    select * from {{ ref('stg_bitrix__order_prop_values') }}
    where {{ bitrix_omni.in_changed_records('b_sale_order', 'order_id', since) }}
),

order_props as (
    select * from {{ ref('stg_bitrix__order_props') }}
),

communications as (
    select * from {{ ref('stg_bitrix__crm_communications') }}
),

user_values as (
    select
        user_id,
        'email' as identifier_kind,
        email_raw as value_raw,
        'b_user.EMAIL' as evidence
    from users
    where not is_technical

    union all

    select
        user_id,
        'phone' as identifier_kind,
        personal_phone_raw as value_raw,
        'b_user.PERSONAL_PHONE' as evidence
    from users
    where not is_technical

    union all

    select
        user_id,
        'phone' as identifier_kind,
        personal_mobile_raw as value_raw,
        'b_user.PERSONAL_MOBILE' as evidence
    from users
    where not is_technical

    union all

    select
        user_id,
        'phone' as identifier_kind,
        work_phone_raw as value_raw,
        'b_user.WORK_PHONE' as evidence
    from users
    where not is_technical
),

-- b_sale_order_props flags win; without them (table not replicated, or a value
-- whose property is unknown) the configured property codes decide.
order_values as (
    select
        order_prop_values.order_id,
        case
            when coalesce(
                    order_props.is_email,
                    order_prop_values.prop_code in ({{ sql_list(email_codes) }})
                ) then 'email'
            when coalesce(
                    order_props.is_phone,
                    order_prop_values.prop_code in ({{ sql_list(phone_codes) }})
                ) then 'phone'
        end as identifier_kind,
        order_prop_values.prop_value as value_raw
    from order_prop_values
    left join order_props
        on order_prop_values.order_prop_id = order_props.order_prop_id
    -- a value of no order belongs to no record
    where order_prop_values.order_id is not null
),

crm_values as (
    select
        entity_id,
        entity_type,
        lower(communication_type) as identifier_kind,
        value_raw,
        'b_crm_field_multi.' || communication_type as evidence
    from communications
    where
        communication_type in ('EMAIL', 'PHONE')
        -- a value bound to no entity belongs to no record
        and entity_id is not null
        and (
            entity_type = 'CONTACT'
            and {{ bitrix_omni.in_changed_records('b_crm_contact', 'entity_id', since) }}
            or entity_type = 'LEAD'
            and {{ bitrix_omni.in_changed_records('b_crm_lead', 'entity_id', since) }}
        )
),

unioned as (
    select
        {{ identity_record_key("'b_user'", 'user_id') }} as record_key,
        identifier_kind,
        value_raw,
        evidence
    from user_values

    union all

    select
        {{ identity_record_key("'b_sale_order'", 'order_id') }} as record_key,
        identifier_kind,
        value_raw,
        'b_sale_order_props_value.' || upper(identifier_kind) as evidence
    from order_values
    where identifier_kind is not null

    union all

    select
        {{ identity_record_key(
            "case entity_type when 'CONTACT' then 'b_crm_contact' else 'b_crm_lead' end",
            'entity_id'
        ) }} as record_key,
        identifier_kind,
        value_raw,
        evidence
    from crm_values
),

present as (
    select distinct
        record_key,
        identifier_kind,
        value_raw,
        evidence
    from unioned
    where value_raw is not null
)

select
    *,
    {{ bitrix_omni.run_stamp() }} as _changed_at
from present
