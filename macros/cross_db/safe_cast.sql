{#-
    Casts that return NULL instead of failing on a value that does not parse.
    DuckDB has try_cast; PostgreSQL has no safe cast, so the value is validated
    with a pattern first (a failed cast would abort the whole build).
-#}

{% macro safe_cast_bigint(expression) %}
    {{- return(adapter.dispatch('safe_cast_bigint', 'bitrix_omni')(expression)) -}}
{% endmacro %}

{% macro default__safe_cast_bigint(expression) %}
    case
        when {{ expression }} ~ '^[+-]?[0-9]{1,18}$'
            then cast({{ expression }} as bigint)
    end
{%- endmacro %}

{% macro duckdb__safe_cast_bigint(expression) %}
    try_cast({{ expression }} as bigint)
{%- endmacro %}


{% macro safe_cast_decimal(expression, precision=18, scale=4) %}
    {{- return(adapter.dispatch('safe_cast_decimal', 'bitrix_omni')(expression, precision, scale)) -}}
{% endmacro %}

{% macro default__safe_cast_decimal(expression, precision, scale) %}
    case
        when {{ expression }} ~ '^[+-]?[0-9]{1,{{ precision - scale }}}(\.[0-9]*)?$'
            then cast({{ expression }} as numeric({{ precision }}, {{ scale }}))
    end
{%- endmacro %}

{% macro duckdb__safe_cast_decimal(expression, precision, scale) %}
    try_cast({{ expression }} as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}


{#-
    Timestamp from 'YYYY-MM-DD[ HH:MM[:SS[.fff]]]'. MySQL zero dates
    ('0000-00-00 00:00:00') and impossible dates become NULL.
-#}
{% macro safe_cast_timestamp(expression) %}
    {{- return(adapter.dispatch('safe_cast_timestamp', 'bitrix_omni')(expression)) -}}
{% endmacro %}

{% macro default__safe_cast_timestamp(expression) %}
    case
        when {{ expression }} ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?$'
            and substr({{ expression }}, 1, 4) <> '0000'
            then
                case
                    {# nested so the day check never sees an invalid month #}
                    when extract(day from (
                        date_trunc('month', cast(substr({{ expression }}, 1, 7) || '-01' as date))
                        + interval '1 month' - interval '1 day'
                    )) >= cast(substr({{ expression }}, 9, 2) as integer)
                        then cast({{ expression }} as timestamp)
                end
    end
{%- endmacro %}

{% macro duckdb__safe_cast_timestamp(expression) %}
    case
        when regexp_full_match(
            {{ expression }},
            '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?'
        )
            then try_cast({{ expression }} as timestamp)
    end
{%- endmacro %}


{#- Wall-clock time in `timezone` -> the same instant as a UTC timestamp without zone. -#}
{% macro local_to_utc(expression, timezone) %}
    {{- return(adapter.dispatch('local_to_utc', 'bitrix_omni')(expression, timezone)) -}}
{% endmacro %}

{% macro default__local_to_utc(expression, timezone) %}
    (({{ expression }}) at time zone {{ bitrix_omni.sql_literal(timezone) }}) at time zone 'UTC'
{%- endmacro %}
