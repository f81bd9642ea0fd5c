{#-
    Post-hook of every model: fresh planner statistics for the table just built.

    PostgreSQL gathers statistics of a new or rewritten table only when autovacuum gets to
    it, which is after the models reading it in the same run have been planned. Planned on
    no statistics, `bl_crm_site_links` took 95 s at 100k customers instead of 1.4 s (its
    joins on the identity registry and usable identifiers became nested loops). ANALYZE
    samples a fixed number of rows, so it costs well under a second even on large tables.
    DuckDB keeps its statistics up to date itself: no statement there. Views and
    ephemeral models have no table to analyze.
-#}
{% macro analyze_built_table() %}
    {{ return(adapter.dispatch('analyze_built_table', 'bitrix_omni')()) }}
{% endmacro %}


{% macro default__analyze_built_table() %}
    {%- if execute and config.get('materialized') in ('table', 'incremental') -%}
        {{ return('analyze ' ~ this) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}


{% macro duckdb__analyze_built_table() %}
    {{ return('') }}
{% endmacro %}
