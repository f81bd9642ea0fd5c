{#- SQL models: dbt-postgres's incremental materialization, unchanged. Python: see python.sql. -#}
{% materialization incremental, adapter='bitrix_postgres', supported_languages=['sql', 'python'] %}
    {%- if model['language'] != 'python' -%}
        {{ return(dbt.materialization_incremental_default()) }}
    {%- endif -%}
    {%- set plan = bitrix_postgres__python_incremental_prepare() -%}
    {%- call statement('main', language='python') -%}
        {{- bitrix_postgres__py_write_table(compiled_code, plan.staging_relation) -}}
    {%- endcall -%}
    {{ return(bitrix_postgres__python_incremental_finish(plan)) }}
{% endmaterialization %}
