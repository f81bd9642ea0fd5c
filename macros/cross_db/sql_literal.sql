{#- A quoted SQL string literal with single quotes escaped. -#}
{% macro sql_literal(value) %}
    {{- return("'" ~ dbt.escape_single_quotes(value | string) ~ "'") -}}
{% endmacro %}


{#- A comma-separated list of quoted literals, for `in (...)`. -#}
{% macro sql_list(values) %}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append(bitrix_omni.sql_literal(value)) -%}
    {%- endfor -%}
    {{- return(quoted | join(', ') if quoted else "null") -}}
{% endmacro %}
