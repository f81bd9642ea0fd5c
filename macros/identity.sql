{#- The identity graph's record key: '<bitrix table>:<id>', e.g. 'b_user:42'. -#}
{% macro identity_record_key(table_expression, id_expression) %}
    {{ dbt.concat([table_expression, "':'", "cast(" ~ id_expression ~ " as " ~ dbt.type_string() ~ ")"]) }}
{%- endmacro %}
