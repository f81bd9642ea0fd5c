{#- `expression` contains a match of the regular expression `pattern` (POSIX/RE2 subset). -#}
{% macro regex_matches(expression, pattern) %}
    {{- return(adapter.dispatch('regex_matches', 'bitrix_omni')(expression, pattern)) -}}
{% endmacro %}

{% macro default__regex_matches(expression, pattern) %}
    ({{ expression }} ~ {{ pattern }})
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) %}
    regexp_matches({{ expression }}, {{ pattern }})
{%- endmacro %}
