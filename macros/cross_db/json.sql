{#-
    JSON building that differs between engines. JSON columns are JSON on DuckDB and
    JSONB on PostgreSQL.
-#}

{#- A JSON array of the non-null values of `expression` in a group, ordered by `order_by`. -#}
{% macro json_array_agg(expression, order_by) %}
    {{- return(adapter.dispatch('json_array_agg', 'bitrix_omni')(expression, order_by)) -}}
{% endmacro %}

{% macro default__json_array_agg(expression, order_by) %}
    coalesce(
        jsonb_agg({{ expression }} order by {{ order_by }})
            filter (where {{ expression }} is not null),
        '[]'::jsonb
    )
{%- endmacro %}

{% macro duckdb__json_array_agg(expression, order_by) %}
    coalesce(
        to_json(list({{ expression }} order by {{ order_by }})
            filter (where {{ expression }} is not null)),
        '[]'::json
    )
{%- endmacro %}


{#- An empty JSON array literal of the engine's JSON type. -#}
{% macro empty_json_array() %}
    {{- return(adapter.dispatch('empty_json_array', 'bitrix_omni')()) -}}
{% endmacro %}

{% macro default__empty_json_array() %}'[]'::jsonb{% endmacro %}

{% macro duckdb__empty_json_array() %}'[]'::json{% endmacro %}
