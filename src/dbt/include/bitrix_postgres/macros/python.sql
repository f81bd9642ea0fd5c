{#-
    Python models on PostgreSQL (the bitrix_postgres adapter).

    The compiled model runs in the dbt process (adapter.submit_python_job). It writes its
    result into a staging table of its own, named per invocation, on a separate ADBC
    connection and commits it; nothing on dbt's connection touches that name, so the two
    connections never wait for each other. The materializations below then swap the
    staging table in (table) or merge it (incremental) in one transaction on dbt's own
    connection, so readers never see the target missing, and a failing model leaves the
    existing table as it was.
-#}

{#- The code submitted for a Python model: the model + dbt's postfix + where to write
    (tojson strings are valid Python string literals). -#}
{% macro bitrix_postgres__py_write_table(compiled_code, relation) -%}
{{ compiled_code }}

__bitrix_postgres_target__ = {"schema": {{ relation.schema | tojson }}, "identifier": {{ relation.identifier | tojson }}}
{%- endmacro %}


{#- A staging relation for the model's result: unique per invocation, at most 63 bytes. -#}
{% macro bitrix_postgres__python_staging_relation(target_relation) %}
    {%- set suffix = '__dbt_py_' ~ invocation_id.replace('-', '')[:10] -%}
    {%- set identifier = target_relation.identifier[:(63 - suffix | length)] ~ suffix -%}
    {{ return(target_relation.incorporate(path={'identifier': identifier}, type='table')) }}
{% endmacro %}


{#-
    Replace target_relation by staging_relation in ONE statement (one implicit
    transaction even on an autocommit connection): old -> backup, staging -> target.
-#}
{% macro bitrix_postgres__swap_in(existing_relation, staging_relation, target_relation, backup_relation) %}
    {%- call statement('swap_in') -%}
        {%- if existing_relation is not none %}
        alter {{ 'view' if existing_relation.is_view else 'table' }} {{ existing_relation }}
            rename to {{ adapter.quote(backup_relation.identifier) }};
        {%- endif %}
        alter table {{ staging_relation }} rename to {{ adapter.quote(target_relation.identifier) }};
    {%- endcall -%}
    {%- if existing_relation is not none -%}
        {%- do adapter.cache_renamed(existing_relation, backup_relation) -%}
    {%- endif -%}
    {%- do adapter.cache_added(target_relation) -%}
{% endmacro %}


{#-
    The materializations (materializations/*.sql) run the model themselves: dbt allows
    `statement(..., language='python')` only directly in a materialization. Around it:
    *_prepare (before) and *_finish (after), which share a `plan` dict.
-#}

{#- Table: relations, pre-hooks outside the transaction, drop a stale backup. -#}
{% macro bitrix_postgres__python_table_prepare() %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
    {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {%- if preexisting_backup_relation is not none -%}
        {#- drop_relation_if_exists runs outside a transaction (auto_begin=False) -#}
        {{ drop_relation_if_exists(preexisting_backup_relation) }}
    {%- endif -%}
    {{ return({
        'mode': 'table',
        'existing_relation': existing_relation,
        'target_relation': target_relation,
        'staging_relation': bitrix_postgres__python_staging_relation(target_relation),
        'backup_relation': backup_relation,
    }) }}
{% endmacro %}


{#- Table: swap the staging table in, in one transaction; then drop the old table. -#}
{% macro bitrix_postgres__python_table_finish(plan) %}
    {%- set existing_relation = plan.existing_relation -%}
    {%- set target_relation = plan.target_relation -%}
    {#- `BEGIN` happens here (first statement on dbt's connection) -#}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- do bitrix_postgres__swap_in(
        existing_relation, plan.staging_relation, target_relation, plan.backup_relation
    ) -%}
    {%- do create_indexes(target_relation) -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) -%}
    {%- do apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ adapter.commit() }}
    {%- if existing_relation is not none -%}
        {{ drop_relation_if_exists(plan.backup_relation) }}
    {%- endif -%}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmacro %}


{#- Incremental: a first run, a full refresh or a view in the way build like a table. -#}
{% macro bitrix_postgres__python_incremental_prepare() %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if existing_relation is none or existing_relation.is_view or should_full_refresh() -%}
        {{ return(bitrix_postgres__python_table_prepare()) }}
    {%- endif -%}
    {%- if (config.get('incremental_strategy') or 'default') == 'microbatch' -%}
        {{ exceptions.raise_compiler_error(
            "bitrix_postgres: the microbatch strategy is not supported for Python models"
        ) }}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ return({
        'mode': 'incremental',
        'existing_relation': existing_relation,
        'target_relation': target_relation,
        'staging_relation': bitrix_postgres__python_staging_relation(target_relation),
    }) }}
{% endmacro %}


{#- Incremental: append / delete+insert / merge the staging table, in one transaction. -#}
{% macro bitrix_postgres__python_incremental_finish(plan) %}
    {%- if plan.mode == 'table' -%}
        {{ return(bitrix_postgres__python_table_finish(plan)) }}
    {%- endif -%}
    {%- set existing_relation = plan.existing_relation -%}
    {%- set target_relation = plan.target_relation -%}
    {%- set staging_relation = plan.staging_relation -%}
    {%- set incremental_strategy = config.get('incremental_strategy') or 'default' -%}
    {%- set on_schema_change = incremental_validate_on_schema_change(
        config.get('on_schema_change'), default='ignore'
    ) -%}
    {%- set incremental_predicates = config.get('predicates', none) or config.get('incremental_predicates', none) -%}
    {%- do adapter.cache_added(staging_relation) -%}

    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- set dest_columns = process_schema_changes(on_schema_change, staging_relation, existing_relation) -%}
    {%- if not dest_columns -%}
        {%- set dest_columns = adapter.get_columns_in_relation(existing_relation) -%}
    {%- endif -%}
    {%- set strategy_sql_macro_func = adapter.get_incremental_strategy_macro(context, incremental_strategy) -%}
    {%- set strategy_arg_dict = ({
        'target_relation': target_relation,
        'temp_relation': staging_relation,
        'unique_key': config.get('unique_key'),
        'dest_columns': dest_columns,
        'incremental_predicates': incremental_predicates,
    }) -%}
    {%- call statement('merge_staging') -%}
        {{ strategy_sql_macro_func(strategy_arg_dict) }}
    {%- endcall -%}
    {{ drop_relation_if_exists(staging_relation) }}
    {%- do create_indexes(target_relation) -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- set should_revoke = should_revoke(existing_relation, full_refresh_mode=False) -%}
    {%- do apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmacro %}
