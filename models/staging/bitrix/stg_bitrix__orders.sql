{#- Raw table and key (staged column: its expression below), read by the source CTE,
    unique_key and the tombstones of keys gone from the source. -#}
{%- set raw_table = {
    'name': 'b_sale_order',
    'key': {'order_id': "bx_int('id')"},
} -%}
{{ config(
    unique_key=raw_table['key'].keys() | list,
    meta={'bitrix_raw_table': raw_table},
) }}

with

source as (
    select * from {{ bitrix_staging_source(raw_table) }}
),

renamed as (
    select
        ---------- ids
        {{ bx_int('id') }} as order_id,
        {{ bx_text('account_number') }} as account_number,
        {{ bx_ref('user_id') }} as user_id,
        {{ bx_ref('person_type_id') }} as person_type_id,
        {{ bx_ref('pay_system_id') }} as pay_system_id,
        {{ bx_text('delivery_id') }} as delivery_id,
        {{ bx_text('xml_id') }} as xml_id,
        {{ bx_text('stat_gid') }} as stat_guest_marker,
        {{ bx_text('bx_user_id') }} as browser_id,
        ---------- strings
        {{ bx_text('lid') }} as site_id,
        {{ bx_code('status_id') }} as status_id,
        {{ bx_code('currency') }} as currency,
        {{ bx_text('reason_canceled') }} as cancel_reason,
        ---------- numerics
        {{ bx_decimal('price') }} as order_total,
        {{ bx_decimal('price_delivery') }} as delivery_price,
        {{ bx_decimal('discount_value') }} as discount_amount,
        {{ bx_decimal('tax_value') }} as tax_amount,
        {{ bx_decimal('sum_paid') }} as paid_amount,
        ---------- booleans
        coalesce({{ bx_flag('canceled') }}, false) as is_canceled,
        coalesce({{ bx_flag('payed') }}, false) as is_paid,
        coalesce({{ bx_flag('external_order') }}, false) as is_external,
        ---------- timestamps
        {{ bx_timestamp('date_insert') }} as created_at,
        {{ bx_timestamp('date_update') }} as updated_at,
        {{ bx_timestamp('date_status') }} as status_changed_at,
        {{ bx_timestamp('date_payed') }} as paid_at,
        {{ bx_timestamp('date_canceled') }} as canceled_at,
        ---------- technical
        _source_row_hash
    from source
),

deduplicated as (
    {{ bx_deduplicate('renamed', 'order_id', 'updated_at desc nulls last') }}
)

{{ bitrix_omni.bitrix_stamped('deduplicated', raw_table) }}
