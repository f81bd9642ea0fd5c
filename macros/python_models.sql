{#-
    Post-hook of the identity Python models (dbt_project.yml). On DuckDB an incremental run
    of a Python model writes the model's DataFrame to `<model>__dbt_tmp<timestamp>`, a
    regular table in the database's default schema (dbt-duckdb 1.11's `py_write_table`
    ignores the temporary flag), and the materialization, taking it for temporary, does not
    drop it: every hourly run would leave one more table per model. This hook drops those
    tables of the model that runs, left by this run or by an earlier (failed) one. Other
    adapters clean up themselves: no statement.
-#}
{% macro drop_python_model_temp_tables() %}
    {{ return(adapter.dispatch('drop_python_model_temp_tables', 'bitrix_omni')()) }}
{% endmacro %}


{% macro default__drop_python_model_temp_tables() %}
    {{ return('') }}
{% endmacro %}


{% macro duckdb__drop_python_model_temp_tables() %}
    {%- if not execute or model.language != 'python' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set leftovers = run_query(
        "select database_name, schema_name, table_name from duckdb_tables()"
        ~ " where not temporary and database_name = current_database()"
        ~ " and regexp_full_match(table_name, "
        ~ bitrix_omni.sql_literal(modules.re.escape(this.identifier) ~ '__dbt_tmp[0-9]+')
        ~ ")"
    ) -%}
    {%- for row in leftovers.rows -%}
        {%- do adapter.drop_relation(api.Relation.create(
            database=row[0], schema=row[1], identifier=row[2], type='table'
        )) -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}
