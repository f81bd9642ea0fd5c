{#-
    Cleaning of raw Bitrix text values, shared by the staging models.
    The raw relation gives every column as text (see bitrix_source); these macros
    turn it into typed values and never fail on dirty input: a value that does not
    parse becomes NULL.
-#}

{#- Trimmed text; empty string -> NULL. -#}
{% macro bx_text(column_name) %}
    nullif(trim({{ column_name }}), '')
{%- endmacro %}


{#- Trimmed upper-case code (status, source, type codes); empty -> NULL. -#}
{% macro bx_code(column_name) %}
    nullif(upper(trim({{ column_name }})), '')
{%- endmacro %}


{#- Integer; anything that is not an integer -> NULL. -#}
{% macro bx_int(column_name) %}
    {{- bitrix_omni.safe_cast_bigint("trim(" ~ column_name ~ ")") -}}
{%- endmacro %}


{#- Reference to another row: Bitrix writes 0 for "none". -#}
{% macro bx_ref(column_name) %}
    nullif({{ bitrix_omni.bx_int(column_name) }}, 0)
{%- endmacro %}


{#- Decimal number; a decimal comma is accepted. -#}
{% macro bx_decimal(column_name, precision=18, scale=4) %}
    {{- bitrix_omni.safe_cast_decimal(
        "replace(trim(" ~ column_name ~ "), ',', '.')", precision, scale
    ) -}}
{%- endmacro %}


{#- Bitrix char(1) flag: Y -> true, N -> false, anything else -> NULL. -#}
{% macro bx_flag(column_name) %}
    case upper(trim({{ column_name }}))
        when 'Y' then true
        when 'N' then false
    end
{%- endmacro %}


{#- Server-local Bitrix datetime -> UTC timestamp (zero dates and junk -> NULL). -#}
{% macro bx_timestamp(column_name) %}
    {{- bitrix_omni.local_to_utc(
        bitrix_omni.safe_cast_timestamp("trim(" ~ column_name ~ ")"),
        var('bitrix_omni_timezone')
    ) -}}
{%- endmacro %}


{#- Timestamp already in UTC (our own tables, e.g. ESP webhook events). -#}
{% macro bx_utc_timestamp(column_name) %}
    {{- bitrix_omni.safe_cast_timestamp("trim(" ~ column_name ~ ")") -}}
{%- endmacro %}


{#- Date (no time zone shift: a birthday is a calendar date). -#}
{% macro bx_date(column_name) %}
    cast({{ bitrix_omni.safe_cast_timestamp("trim(" ~ column_name ~ ")") }} as date)
{%- endmacro %}


{#-
    Keeps one row per key: replicas and CDC tools deliver the same primary key
    more than once. The latest version wins (order_by, typically the row's
    change time descending); rows without a key are dropped here. Rows that tie on
    order_by are ordered by a hash of the whole row, so the pick is deterministic.
-#}
{% macro bx_deduplicate(relation, partition_by, order_by) %}
    {{- return(adapter.dispatch('bx_deduplicate', 'bitrix_omni')(relation, partition_by, order_by)) -}}
{% endmacro %}

{% macro default__bx_deduplicate(relation, partition_by, order_by) %}
    select distinct on ({{ partition_by }}) *
    from {{ relation }}
    where {{ partition_by | replace(',', ' is not null and ') }} is not null
    order by {{ partition_by }}, {{ order_by }}, md5(cast({{ relation }} as text))
{%- endmacro %}

{#- Most keys occur once: their rows pass straight through, and only the rows of repeated
    keys are ordered (the md5 tie-break over a whole row is the costly part; this halves the
    cost of de-duplicating a multi-million-row export). Same result as one row_number(). -#}
{% macro duckdb__bx_deduplicate(relation, partition_by, order_by) %}
    {%- set keyed = partition_by | replace(',', ' is not null and ') ~ ' is not null' -%}
    select *
    from {{ relation }}
    where {{ keyed }}
    qualify count(*) over (partition by {{ partition_by }}) = 1

    union all

    select *
    from {{ relation }}
    where ({{ partition_by }}) in (
        select {{ partition_by }}
        from {{ relation }}
        where {{ keyed }}
        group by {{ partition_by }}
        having count(*) > 1
    )
    qualify row_number() over (
        partition by {{ partition_by }}
        order by {{ order_by }}, md5(cast({{ relation }} as varchar))
    ) = 1
{%- endmacro %}
