{#-
    Data tests on the rows the runs wrote, not on the whole history.

    An hourly run writes a few thousand rows into tables of millions; a `unique` test that
    groups the whole table every hour costs more than the run's models. A model that stamps
    the rows a run writes declares the stamp column in its meta:

        config: {meta: {bitrix_omni_written_at: _staged_at}}

    and its tests then read, while `bitrix_omni_test_scope` is `written` (the default):

    * row by row tests (not_null, accepted_values, dbt_utils' expression_is_true,
      accepted_range, not_accepted_values, not_empty_string): the rows stamped after the
      test's mark;
    * uniqueness tests (unique, dbt_utils' unique_combination_of_columns): every row of the
      keys stamped after the mark, so a written row that repeats an old key still fails;
    * a singular test that opts in (config meta `bitrix_omni_scoped_test: true`): what
      its SQL derives from `singular_test_written(model)`, the condition on the written
      rows of a model it reads (e.g. every row of the customers with a written row);
    * any other test (relationships: a deleted parent orphans old rows; aggregates;
      other singular tests): everything, as always.

    A stamp must be set on every row a run writes, to a time later than any earlier run's
    start: the start of the writing run (`run_stamp()`: `_staged_at`, `_built_at`, the
    first record-layer models' `_changed_at`; not the later ones' `_changed_at`, which may
    repeat an upstream model's older stamp), or the clock of a Python model that writes only
    changed rows (the registry's `resolved_at`, declared with meta
    `bitrix_omni_written_at_run_start: false`).

    The mark of a test (`bitrix_omni_test_marks` in the target schema) moves in the
    on-run-end hook, and only for a test that passed: to the start of the run when the run
    also built the test's model, else (or for a Python model's clock) to the newest stamp in
    the model. A failing or warning test keeps its mark and fails again until its rows are
    fixed; a test without a mark (first run, a new or renamed test, a changed `where` or
    stamp column) reads everything, as does any test while `bitrix_omni_test_scope` is
    `all` (a nightly `dbt build --vars '{bitrix_omni_test_scope: all}'`, which also catches
    rows changed by hand in the warehouse, which no stamp shows). Runs on one warehouse must
    not overlap (as for any incremental model): a run that started earlier and wrote later
    would stamp its rows before a mark already set.
-#}


{#- Tests that read the tested model row by row: the written rows are enough. -#}
{% macro scoped_row_tests() %}
    {{- return(['not_null', 'accepted_values', 'expression_is_true', 'accepted_range',
        'not_accepted_values', 'not_empty_string']) -}}
{% endmacro %}


{#- The relation of the test marks: one row per test that passed with its model's stamps. -#}
{% macro test_marks_relation() %}
    {{- return(api.Relation.create(
        database=target.database, schema=target.schema, identifier='bitrix_omni_test_marks'
    )) -}}
{% endmacro %}


{#- dbt wraps the `model` argument of every generic test in this macro (it also applies the
    test's `where` config): the project's version reads only the rows the runs wrote since
    the test's mark, for the tests that allow it (see the top of this file). -#}
{% macro get_where_subquery(relation) -%}
    {%- set unscoped = adapter.dispatch('get_where_subquery', 'dbt')(relation) -%}
    {%- set written = bitrix_omni.written_since_mark(relation) -%}
    {%- if written is none -%}
        {{ return(unscoped) }}
    {%- endif -%}
    {%- set where = config.get('where') -%}
    {%- set condition = '(' ~ where ~ ') and ' if where else '' -%}
    {%- set kwargs = model.test_metadata.kwargs -%}
    {%- set scoped -%}
    {%- if model.test_metadata.name in bitrix_omni.scoped_row_tests() -%}
        (select * from {{ relation }} where {{ condition }}{{ written }}) dbt_subquery
    {%- elif model.test_metadata.name == 'unique' -%}
        {#- `unique` skips NULLs -#}
        {%- set key = kwargs['column_name'] -%}
        (
            select * from {{ relation }}
            where
                {{ condition }}{{ key }} in (
                    select {{ key }} from {{ relation }} where {{ condition }}{{ written }}
                )
        ) dbt_subquery
    {%- else -%}
        {#- a combination may hold NULLs, which `in` never matches: the keys with a NULL are
            matched by a NULL-safe hash (a collision only adds rows to read), computed only
            on rows with a NULL in the key (PostgreSQL hashes a row's text slowly). Two
            disjoint selects: DuckDB runs `in (...) or ...` as a nested loop. -#}
        {%- set columns = kwargs['combination_of_columns'] -%}
        {%- set with_null = '(' ~ columns | join(' is null or ') ~ ' is null)' -%}
        {%- set null_safe = bitrix_omni.bx_hash(columns) -%}
        (
            select * from {{ relation }}
            where
                {{ condition }}({{ columns | join(', ') }}) in (
                    select {{ columns | join(', ') }} from {{ relation }}
                    where {{ condition }}{{ written }}
                )
            union all
            select * from {{ relation }}
            where
                {{ condition }}{{ with_null }} and {{ null_safe }} in (
                    select {{ null_safe }} from {{ relation }}
                    where {{ condition }}{{ written }} and {{ with_null }}
                )
        ) dbt_subquery
    {%- endif -%}
    {%- endset -%}
    {{ return(scoped) }}
{%- endmacro %}


{#- The condition "stamped after the test's mark" on the tested model, or none when the test
    reads everything: scope `all`, a test that needs every row, a model without a stamp, no
    mark yet. -#}
{% macro written_since_mark(relation) %}
    {%- if not bitrix_omni.tests_read_written_rows() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set stamp = bitrix_omni.scoped_test_stamp(model) -%}
    {%- if stamp is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set mark = bitrix_omni.stored_test_mark(
        model.unique_id, bitrix_omni.test_definition(config.get('where'), stamp)
    ) -%}
    {%- if mark is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(stamp ~ ' > ' ~ mark) }}
{% endmacro %}


{#- Whether tests read only the rows written since their marks (`bitrix_omni_test_scope`
    is `written`, the default) rather than everything (`all`). -#}
{% macro tests_read_written_rows() %}
    {%- set scope = var('bitrix_omni_test_scope', 'written') -%}
    {%- if scope not in ('written', 'all') -%}
        {{ exceptions.raise_compiler_error(
            "bitrix_omni_test_scope must be 'written' or 'all', not '" ~ scope ~ "'"
        ) }}
    {%- endif -%}
    {{ return(execute and scope == 'written') }}
{% endmacro %}


{#- The stored mark of a test (a timestamp literal), or none when it has none for this
    definition. -#}
{% macro stored_test_mark(test_id, definition) %}
    {%- set marks = bitrix_omni.test_marks_relation() -%}
    {%- if adapter.get_relation(marks.database, marks.schema, marks.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set mark = run_query(
        "select max(tested_through) from " ~ marks ~ " where test_id = '" ~ test_id
        ~ "' and test_definition = '" ~ definition ~ "'"
    ).rows[0][0] -%}
    {{ return(bitrix_omni.timestamp_literal(mark) if mark is not none else none) }}
{% endmacro %}


{#- In a singular test that opts in (config meta `bitrix_omni_scoped_test: true`): the
    condition "stamped after the test's mark" on the rows of `model_name` (a model the
    test refs) that stamps its rows with the start of the writing run;
    or none when the test reads everything (scope `all`, no mark yet, the test's SQL
    changed since its mark). The test itself decides what the written rows make it read
    (e.g. every row of the customers that have a written row). The mark moves to the start
    of a run in which the test passed. -#}
{% macro singular_test_written(model_name) %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ model_name) -%}
    {%- if (
        not model.config.meta.get('bitrix_omni_scoped_test')
        or node is none
        or not node.config.meta.get('bitrix_omni_written_at')
        or not node.config.meta.get('bitrix_omni_written_at_run_start', true)
    ) -%}
        {{ exceptions.raise_compiler_error(
            "singular_test_written('" ~ model_name ~ "') in " ~ model.name ~ ": the test"
            ~ " needs meta bitrix_omni_scoped_test: true, and " ~ model_name ~ " must be a"
            ~ " model whose meta bitrix_omni_written_at names a run-start stamp"
        ) }}
    {%- endif -%}
    {%- if not bitrix_omni.tests_read_written_rows() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set mark = bitrix_omni.stored_test_mark(
        model.unique_id, bitrix_omni.singular_test_definition(model)
    ) -%}
    {%- if mark is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(node.config.meta['bitrix_omni_written_at'] ~ ' > ' ~ mark) }}
{% endmacro %}


{#- What the mark of a singular test was set for: its SQL. -#}
{% macro singular_test_definition(test) %}
    {{- return(local_md5('singular|' ~ test.checksum.checksum)) -}}
{% endmacro %}


{#- The stamp column of the model a test node tests, when the test can read only the
    written rows and the model declares one (meta `bitrix_omni_written_at`); else none. -#}
{% macro scoped_test_stamp(test) %}
    {%- set name = test.test_metadata.name if test.test_metadata else none -%}
    {%- if name not in bitrix_omni.scoped_row_tests() + ['unique', 'unique_combination_of_columns'] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.get(test.attached_node) if test.attached_node else none -%}
    {%- if node is none or node.resource_type != 'model' -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(node.config.meta.get('bitrix_omni_written_at')) }}
{% endmacro %}


{#- What a mark was set for: the test's `where` and the model's stamp column. A test whose
    `where` or stamp changed (its unique_id does not) has no mark and reads everything. -#}
{% macro test_definition(where, stamp) %}
    {{- return(local_md5((where or '') ~ '|' ~ stamp)) -}}
{% endmacro %}


{#- on-run-start: the marks table, created when missing. -#}
{% macro create_test_marks() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set marks = bitrix_omni.test_marks_relation() -%}
    {%- do adapter.create_schema(marks) -%}
    {{ return(
        'create table if not exists ' ~ marks ~ ' (test_id ' ~ dbt.type_string()
        ~ ', test_definition ' ~ dbt.type_string() ~ ', tested_through ' ~ dbt.type_timestamp() ~ ')'
    ) }}
{% endmacro %}


{#- on-run-end: the marks of the tests on stamped models that passed in this run, as SQL
    (dbt runs the hooks outside a transaction). -#}
{% macro record_test_marks(results) %}
    {#- `dbt build --empty` runs the tests on no rows: they pass without reading anything -#}
    {%- if not execute or flags.EMPTY -%}
        {{ return('') }}
    {%- endif -%}
    {%- set built = [] -%}
    {%- for result in results
        if result.node.resource_type == 'model' and result.status == 'success' -%}
        {%- do built.append(result.node.unique_id) -%}
    {%- endfor -%}
    {%- set newest = {} -%}
    {%- set ids = [] -%}
    {%- set rows = [] -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status == 'pass'
        and result.node.config.meta.get('bitrix_omni_scoped_test') -%}
        {%- do ids.append("'" ~ result.node.unique_id ~ "'") -%}
        {%- do rows.append("(" ~ ids[-1] ~ ", '" ~ bitrix_omni.singular_test_definition(result.node)
            ~ "', " ~ bitrix_omni.run_stamp() ~ ")") -%}
    {%- endfor -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status == 'pass' -%}
        {%- set attached = result.node.attached_node -%}
        {%- set stamp = bitrix_omni.scoped_test_stamp(result.node) -%}
        {%- set run_start = attached in built
            and graph.nodes[attached].config.meta.get('bitrix_omni_written_at_run_start', true) -%}
        {%- if stamp is not none and not run_start and attached not in newest -%}
            {%- set node = graph.nodes[attached] -%}
            {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
            {%- do newest.update({attached: bitrix_omni.newest_stamp(relation, stamp)
                if relation is not none else none}) -%}
        {%- endif -%}
        {%- set mark = bitrix_omni.run_stamp() if run_start else newest.get(attached) -%}
        {%- if stamp is not none and mark is not none -%}
            {%- do ids.append("'" ~ result.node.unique_id ~ "'") -%}
            {%- do rows.append("(" ~ ids[-1] ~ ", '"
                ~ bitrix_omni.test_definition(result.node.config.where, stamp) ~ "', " ~ mark ~ ")") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if rows | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set marks = bitrix_omni.test_marks_relation() -%}
    {{ return(
        'delete from ' ~ marks ~ ' where test_id in (' ~ ids | join(', ') ~ '); '
        ~ 'insert into ' ~ marks ~ ' (test_id, test_definition, tested_through) values '
        ~ rows | join(', ')
    ) }}
{% endmacro %}
