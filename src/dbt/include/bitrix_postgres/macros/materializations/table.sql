{#- SQL models: dbt-postgres's table materialization, unchanged. Python: see python.sql. -#}
{% materialization table, adapter='bitrix_postgres', supported_languages=['sql', 'python'] %}
    {%- if model['language'] != 'python' -%}
        {{ return(dbt.materialization_table_default()) }}
    {%- endif -%}
    {%- set plan = bitrix_postgres__python_table_prepare() -%}
    {%- call statement('main', language='python') -%}
        {{- bitrix_postgres__py_write_table(compiled_code, plan.staging_relation) -}}
    {%- endcall -%}
    {{ return(bitrix_postgres__python_table_finish(plan)) }}
{% endmaterialization %}
