{#- The identity graph's record key: '<bitrix table>:<id>', e.g. 'b_user:42'. -#}
{% macro identity_record_key(table_expression, id_expression) %}
    {{ dbt.concat([table_expression, "':'", "cast(" ~ id_expression ~ " as " ~ dbt.type_string() ~ ")"]) }}
{%- endmacro %}


{#-
    Pre-hook of bl_customer_identity_map (incremental on the registry's resolved_at): in an
    incremental run, delete the records the registry marked gone (is_current = false) since
    the map's last change. Changed and new current records come through the model itself.
-#}
{% macro delete_gone_identity_records() %}
    {%- if not bitrix_omni.incremental_hook_runs() -%}
        {{ return('') }}
    {%- endif -%}
    delete from {{ this }}
    where record_key in (
        select registry.record_key
        from {{ ref('int_identity__customer_registry') }} as registry
        where
            not registry.is_current
            and registry.resolved_at > {{ bitrix_omni.last_resolved_at() }}
    )
{% endmacro %}


{#- The newest registry stamp an incremental identity table has taken in (a scalar subquery). -#}
{% macro last_resolved_at() %}
    (
        select coalesce(max(built.resolved_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
        from {{ this }} as built
    )
{%- endmacro %}
