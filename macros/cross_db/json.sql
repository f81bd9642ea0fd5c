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


{#- A JSON object built from (key literal, value expression) pairs. -#}
{% macro json_object(pairs) %}
    {{- return(adapter.dispatch('json_object', 'bitrix_omni')(pairs)) -}}
{% endmacro %}

{% macro default__json_object(pairs) %}
    jsonb_build_object(
        {%- for key, value in pairs %}
        {{ sql_literal(key) }}, {{ value }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro duckdb__json_object(pairs) %}
    json_object(
        {%- for key, value in pairs %}
        {{ sql_literal(key) }}, {{ value }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}


{#- A JSON object aggregating `value` (JSON) under `key` (text) over a group. -#}
{% macro json_object_agg(key, value) %}
    {{- return(adapter.dispatch('json_object_agg', 'bitrix_omni')(key, value)) -}}
{% endmacro %}

{% macro default__json_object_agg(key, value) %}
    jsonb_object_agg({{ key }}, {{ value }})
{%- endmacro %}

{#- keys in order, so the text is the same on every run (json_group_object keeps input order) -#}
{% macro duckdb__json_object_agg(key, value) %}
    to_json(map(list({{ key }} order by {{ key }}), list({{ value }} order by {{ key }})))
{%- endmacro %}


{#- A timestamp as ISO-8601 text ('2024-03-01T10:00:00'), the same on every engine. -#}
{% macro iso_timestamp(expression) %}
    {{- return(adapter.dispatch('iso_timestamp', 'bitrix_omni')(expression)) -}}
{% endmacro %}

{% macro default__iso_timestamp(expression) %}
    to_char({{ expression }}, 'YYYY-MM-DD"T"HH24:MI:SS')
{%- endmacro %}

{% macro duckdb__iso_timestamp(expression) %}
    strftime({{ expression }}, '%Y-%m-%dT%H:%M:%S')
{%- endmacro %}


{#- An empty JSON object literal of the engine's JSON type. -#}
{% macro empty_json_object() %}
    {{- return(adapter.dispatch('empty_json_object', 'bitrix_omni')()) -}}
{% endmacro %}

{% macro default__empty_json_object() %}'{}'::jsonb{% endmacro %}

{% macro duckdb__empty_json_object() %}'{}'::json{% endmacro %}
