{#-
    Key-scoped incremental models: rebuild only the keys whose inputs changed.

    Many models compute their rows for one key (a customer) from that key's input rows
    only: a customer's profile from its records and contacts, its journey from its
    touchpoints. Such a model keeps `_input_fingerprint` on every row: the sum of the
    hashes of the input rows it was computed from (and of the vars it uses). An incremental
    run fingerprints the current inputs (one aggregate over them), rebuilds only the keys
    whose fingerprint is new or differs from the stored one (delete+insert on the key),
    and its pre-hook deletes the keys that have no input rows any more. Nothing depends on
    which run changed what, so a skipped or failed run needs no repair, and the result
    equals a full build: an unchanged key has exactly the inputs it was built from.

    A model using it must produce rows for every key of its fingerprints and for no other
    key; the pre-hook's `universe` is the relation (and condition) those keys come from.

        {{ config(
            materialized='incremental',
            unique_key='customer_uuid',
            pre_hook="{{ bitrix_omni.delete_keys_without_inputs(
                'customer_uuid', 'int_identity__current_map') }}",
        ) }}
        ...
        fingerprints as (   -- every key's fingerprint: only needed to find the scope
            {{ key_fingerprints('customer_uuid', [
                {'relation': 'identity_map', 'columns': ['record_key', 'first_seen_at']},
            ]) }}
        ),
        scope as (  -- noqa: ST03
            {{ keys_to_build('customer_uuid', 'fingerprints') }}
        ),
        scoped_map as (select * from identity_map where {{ in_scope('customer_uuid') }}),
        spans as (
            select
                customer_uuid,
                ...,
                {{ fingerprint_part(['record_key', 'first_seen_at']) }} as map_fingerprint
            from scoped_map
            group by 1
        ),
        ...
        select ..., {{ fingerprint_of(['spans.map_fingerprint']) }} as _input_fingerprint

    An import CTE that both the fingerprints and the scoped CTE read is `as not
    materialized` (tests/unit/test_sql_conventions.py): materialized, it would be copied
    whole and the scope's filter would not reach its scan.

    In a full build (first run, `--full-refresh`) the scope is every key and `in_scope`
    renders `true` (so `scope` is unused there: hence the `noqa: ST03` for sqlfluff).
    A change of a model's own SQL needs `dbt build --full-refresh --select <model>+`;
    changed input rows (whatever changed them upstream: data, seeds, vars) and changed vars
    the model hashes with its inputs do not. Keys with several rows (a journey) are fine: the
    fingerprint is on each row and delete+insert replaces all rows of a key.
-#}


{#- A hash of SQL expressions: NULL-safe and position-sensitive. Engine-specific values. -#}
{% macro bx_hash(expressions) %}
    {{- return(adapter.dispatch('bx_hash', 'bitrix_omni')(expressions)) -}}
{% endmacro %}

{#- PostgreSQL (14+): the row hashed by the hash functions of its column types, without
    rendering it as text first (3x faster on typed rows, 2x on text; equal values of
    different integer types or numeric scales hash alike). A bare string literal has no
    type inside row() and is cast to text; a column type without a hash function (json)
    must be cast by the caller. -#}
{% macro default__bx_hash(expressions) %}
    {%- set typed = [] -%}
    {%- for expression in expressions -%}
        {%- set text = expression | trim -%}
        {%- if text.startswith("'") and text.endswith("'") -%}
            {%- do typed.append('cast(' ~ text ~ ' as text)') -%}
        {%- else -%}
            {%- do typed.append(expression) -%}
        {%- endif -%}
    {%- endfor %}
    hash_record_extended(row({{ typed | join(', ') }}), 0)
{%- endmacro %}

{% macro duckdb__bx_hash(expressions) %}
    hash({{ expressions | join(', ') }})
{%- endmacro %}


{#-
    The body of a CTE with one row per key: `input_fingerprint`, the sum of the hashes of
    the key's input rows. `inputs` is a list of {'relation': CTE or relation name,
    'columns': [expressions]}; each relation has the key column.
-#}
{% macro key_fingerprints(key, inputs) %}
    select
        {{ key }},
        cast(sum(row_hash) as {{ bitrix_omni.fingerprint_type() }}) as input_fingerprint
    from (
        {%- for input in inputs %}
        select
            {{ key }},
            {{ bitrix_omni.bx_hash(input['columns']) }} as row_hash
        from {{ input['relation'] }}
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ) as hashed_inputs
    group by 1
{%- endmacro %}


{#-
    The same fingerprint, computed inside the model's own per-key aggregation (a full
    build then needs neither the `fingerprints` CTE nor a join to attach it):
    `fingerprint_part(columns)` is one input's share, an aggregate over that input's rows
    of the key; `fingerprint_of([parts])` adds the shares (a part may be NULL: a key
    without rows in that input, or the hash of the key's single row).
    `fingerprint_over(key, columns)` is the whole fingerprint of a one-input model as a
    window over the input rows. All rows of a key are in scope together, so these equal
    `key_fingerprints` in scoped runs too.
-#}
{% macro fingerprint_part(columns) %}
    sum({{ bitrix_omni.bx_hash(columns) }})
{%- endmacro %}

{% macro fingerprint_of(parts) %}
    cast(
        {%- for part in parts %}
        cast(coalesce({{ part }}, 0) as {{ bitrix_omni.fingerprint_type() }})
        {{- " +" if not loop.last }}
        {%- endfor %}
        as {{ bitrix_omni.fingerprint_type() }}
    )
{%- endmacro %}

{% macro fingerprint_over(key, columns) %}
    cast(
        {{ bitrix_omni.fingerprint_part(columns) }} over (partition by {{ key }})
        as {{ bitrix_omni.fingerprint_type() }}
    )
{%- endmacro %}


{#- The type of `_input_fingerprint` (for model contracts): a sum of 64-bit hashes. -#}
{% macro fingerprint_type() %}
    {{- return('decimal(38, 0)') -}}
{% endmacro %}


{#- The body of the `scope` CTE: the keys to (re)build, as `scope_key`. In an incremental
    run only keys whose fingerprint no stored row has (all keys if the stored table
    predates fingerprints; `on_schema_change: fail` then asks for `--full-refresh`); with
    `vanished`, also the stored keys that have no inputs any more, for a model that sends
    a row for them that deletes their stored rows (bl_omni_stats' all-zero rows). -#}
{% macro keys_to_build(key, fingerprints, vanished=false) %}
    select {{ fingerprints }}.{{ key }} as scope_key
    from {{ fingerprints }}
    {%- if bitrix_omni.is_scoped_run() %}
    where not exists (
        select 1
        from {{ this }} as built
        where
            built.{{ key }} = {{ fingerprints }}.{{ key }}
            and built._input_fingerprint = {{ fingerprints }}.input_fingerprint
    )
    {%- if vanished %}
    union
    select built.{{ key }} as scope_key
    from {{ this }} as built
    where not exists (
        select 1
        from {{ fingerprints }}
        where {{ fingerprints }}.{{ key }} = built.{{ key }}
    )
    {%- endif %}
    {%- endif %}
{%- endmacro %}


{#- The body of the `scope` CTE of a model computed per key from the rows of one upstream
    model that stamps the rows it writes (`stamp`, the start of the writing run) and rewrites
    every row of a key it rebuilds (a key-scoped model): the keys of the upstream rows
    written after this model's newest row. An upstream key rebuilt since is rebuilt here; a
    run that failed or was skipped leaves this model's newest row older, so the next run
    takes those keys too. The keys gone upstream leave no row to find: the model's pre-hook
    `delete_keys_without_inputs` deletes them. Unlike a fingerprint this sees no var (a
    model using one needs fingerprints) and no change made to the upstream table by hand.
    Every key on a table without rows; `in_scope(column, '_built_at')` filters by it. -#}
{% macro keys_written_upstream(key, relation, stamp='_built_at') %}
    select distinct {{ key }} as scope_key
    from {{ relation }}
    {%- if bitrix_omni.is_scoped_run('_built_at') %}
    where {{ stamp }} > (
        select coalesce(max(_built_at), {{ bitrix_omni.timestamp_literal('1900-01-01 00:00:00') }})
        from {{ this }}
    )
    {%- endif %}
{%- endmacro %}


{#- The body of a `scope` CTE part: the keys (as `scope_key`) with a current row whose
    `row_hash` no stored row has, or a stored row whose `row_hash` no current row has.
    `current` and `built` are relations (CTEs) of (`key`, row_hash); one hash join. -#}
{% macro keys_with_changed_rows(current, built, key='record_key') %}
    select coalesce({{ current }}.{{ key }}, {{ built }}.{{ key }}) as scope_key
    from {{ current }}
    full outer join {{ built }}
        on {{ current }}.row_hash = {{ built }}.row_hash
    where {{ current }}.row_hash is null or {{ built }}.row_hash is null
{%- endmacro %}


{#- Rows that delete the stored rows of keys in `scope` that `rows` (the model's new rows,
    a CTE) has no row for any more: the key and NULL in `columns` (the model's other
    columns, in order; untyped NULLs take the types of the rows they are added to; a
    column given as [name, type] gets a typed NULL, for types with a precision that
    PostgreSQL would drop in the union). The model's post-hook deletes them again by a
    column that is never NULL otherwise. -#}
{% macro rows_for_keys_without_rows(rows, key, columns) %}
    select
        scope.scope_key as {{ key }},
        {%- for column in columns %}
        {%- if column is string %}
        null as {{ column }}{{ "," if not loop.last }}
        {%- else %}
        cast(null as {{ column[1] }}) as {{ column[0] }}{{ "," if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from scope
    where not exists (
        select 1 from {{ rows }}
        where {{ rows }}.{{ key }} = scope.scope_key
    )
{%- endmacro %}


{#- The model's final select: its new rows (the CTE `rows`), and in a scoped run also
    `rows_for_keys_without_rows`, which delete the stored rows of keys in scope that have
    no row any more (the model's post-hook removes them again). -#}
{% macro rows_and_deleting_rows(rows, key, columns, scoped) %}
select * from {{ rows }}
{%- if scoped %}

union all

{{ bitrix_omni.rows_for_keys_without_rows(rows, key, columns) }}
{%- endif %}
{%- endmacro %}


{#- A condition keeping the rows of keys in scope (always true in a full build). `marker`:
    the column whose presence in the stored table makes a run scoped (see is_scoped_run). -#}
{% macro in_scope(column, marker='_input_fingerprint') %}
    {%- if bitrix_omni.is_scoped_run(marker) -%}
        {{ column }} in (select scope.scope_key from scope)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- An incremental run on a table that has fingerprints, or the `marker` column a model
    scopes its runs by (never in a dbt unit test, which has no `this`). A stored table
    without it is built whole, and `on_schema_change: fail` then asks for --full-refresh.
    Not under `dbt build --empty`: its refs read no rows, so every stored key would look
    gone and be deleted; unscoped, the model writes no row and deletes none. -#}
{% macro is_scoped_run(marker='_input_fingerprint') %}
    {{ return(
        execute and this is not none and is_incremental() and not flags.EMPTY
        and bitrix_omni.relation_has_column(this, marker)
    ) }}
{% endmacro %}


{#- Whether an incremental model's pre- or post-hook writes: not while dbt parses, not in a
    full build, and not under `dbt build --empty` (the refs read no rows there, so a hook
    that deletes what its inputs no longer have would delete every stored row). -#}
{% macro incremental_hook_runs() %}
    {{ return(execute and is_incremental() and not flags.EMPTY) }}
{% endmacro %}


{#- Pre-hook: delete the rows of keys that are no longer in `universe` (a model name),
    optionally only its rows with the given {column: text value}. No statement outside
    incremental runs. -#}
{% macro delete_keys_without_inputs(key, universe, values={}) %}
    {%- if not bitrix_omni.incremental_hook_runs() -%}
        {{ return('') }}
    {%- endif -%}
    delete from {{ this }} as built
    where not exists (
        select 1
        from {{ ref(universe) }} as universe
        where
            universe.{{ key }} = built.{{ key }}
            {%- for column_name, value in values.items() %}
            and universe.{{ column_name }} = {{ bitrix_omni.sql_literal(value) }}
            {%- endfor %}
    )
{% endmacro %}


{#- A per-key sum of row hashes as a bigint (modulo 2^63 - 1), the fingerprint the identity
    registry keeps per record (bitrix_omni.scoped adds two of them the same way). -#}
{% macro bigint_fingerprint(row_hashes) %}
    cast(sum({{ row_hashes }}) % 9223372036854775807 as bigint)
{%- endmacro %}


{#- The `replace_all` incremental strategy: the run's rows replace every stored row. For a
    model that computes its whole (small) result from the stored one, as the guards'
    verdicts: unlike a table it has `is_incremental()`, so a `--full-refresh` run still
    computes from nothing. -#}
{% macro get_incremental_replace_all_sql(arg_dict) %}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}


{#-
    Row-hash incremental models: write only the rows that changed.

    A model whose rows have no key to scope a rebuild by (one row per touchpoint of many
    inputs), and whose query is cheaper than writing its result whole, keeps `_row_hash`
    on every row: the hash of its other columns. A run computes every row, and writes only
    the rows whose hash no stored row has, plus a row of NULLs with the hash of every
    stored row that no current row has. The model is incremental with delete+insert on
    `_row_hash` (which deletes those stored rows) and a post-hook that deletes the rows of
    NULLs again, by a column that is never NULL otherwise:

        {{ config(
            materialized='incremental',
            incremental_strategy='delete+insert',
            unique_key='_row_hash',
            on_schema_change='fail',
            post_hook=["delete from {{ this }} where source_table is null"],
        ) }}
        ...
        {{ bitrix_omni.rows_changed_by_hash('final', columns) }}

    The stored rows are then the current rows: a row either has its hash stored or is
    written. The rows must be distinct (a unique test on `_row_hash`): two equal rows have
    one hash, and a change in how many there are would go unseen. `_built_at` is the start
    of the run that wrote a row, for the tests (macros/test_scope.sql). Like every
    incremental model here, a change of the model's SQL needs `--full-refresh`.
-#}
{% macro rows_changed_by_hash(rows, columns) %}
    {%- set row_hash = bitrix_omni.bx_hash(columns) -%}
    {%- if bitrix_omni.is_scoped_run('_row_hash') %}
select
    {%- for column in columns %}
    current_rows.{{ column }},
    {%- endfor %}
    coalesce(current_rows._row_hash, built._row_hash) as _row_hash,
    {{ bitrix_omni.run_stamp() }} as _built_at
from (
    select
        {{ rows }}.*,
        {{ row_hash }} as _row_hash
    from {{ rows }}
) as current_rows
full outer join (select _row_hash from {{ this }}) as built
    on current_rows._row_hash = built._row_hash
where current_rows._row_hash is null or built._row_hash is null
    {%- else %}
select
    {{ rows }}.*,
    {{ row_hash }} as _row_hash,
    {{ bitrix_omni.run_stamp() }} as _built_at
from {{ rows }}
    {%- endif %}
{%- endmacro %}


{#- For a model computed per key from one staging model, where `key_columns` are the
    first columns of the staging model's key (e.g. the entity of CRM UTM marks keyed by
    entity and code): the keys (a query) with a staged row (re)staged after the model's
    newest `_built_at`, or a staged row deleted since (stg_bitrix__deleted_keys, under the
    staging model's raw table, whose text keys join the key's columns with '|'); none when
    the model is built whole (not a scoped run, no row yet, or every staged row restaged
    since: a --full-refresh of staging leaves no tombstones; a row without `_staged_at` was
    staged before stamps existed). The model's pre-hook `delete_staged_key_scope` deletes
    the scope's rows (all rows when none) and the model appends the scope's rows. -#}
{% macro staged_key_scope(staging_model, key_columns) %}
    {%- set staged = ref(staging_model) -%}
    {%- set deleted = ref('stg_bitrix__deleted_keys') -%}
    {%- if not bitrix_omni.is_scoped_run('_built_at') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set raw_table = graph.nodes['model.' ~ project_name ~ '.' ~ staging_model]
        .config.meta['bitrix_raw_table'] -%}
    {%- if (raw_table['key'] | list)[:key_columns | length] != key_columns -%}
        {{ exceptions.raise_compiler_error(
            "staged_key_scope: " ~ key_columns | join(', ') ~ " are not the first columns of "
            ~ staging_model ~ "'s key (" ~ raw_table['key'] | list | join(', ') ~ ")"
        ) }}
    {%- endif -%}
    {%- set since = bitrix_omni.newest_stamp(this, '_built_at') -%}
    {%- if since is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set kept = run_query(
        'select count(*) from (select 1 as found from ' ~ staged ~ ' where _staged_at <= '
        ~ since ~ ' or _staged_at is null limit 1) as kept'
    ).rows[0][0] -%}
    {%- if kept == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for column_name in key_columns -%}
        {%- do parts.append('cast(' ~ dbt.split_part('deleted.deleted_key', "'|'", loop.index)
            ~ ' as ' ~ dbt.type_bigint() ~ ') as ' ~ column_name) -%}
    {%- endfor -%}
    {%- set query -%}
    select {{ key_columns | join(', ') }}
    from {{ staged }}
    where _staged_at > {{ since }}
    union
    select {{ parts | join(', ') }}
    from {{ deleted }} as deleted
    where deleted.raw_table = '{{ raw_table['name'] }}' and deleted.deleted_at > {{ since }}
    {%- endset -%}
    {{ return(query) }}
{%- endmacro %}


{#- Pre-hook of a model scoped by `staged_key_scope`: delete the rows of the keys in scope,
    or every row when the model is built whole. -#}
{% macro delete_staged_key_scope(staging_model, key_columns) %}
    {%- if not bitrix_omni.incremental_hook_runs() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set scope = bitrix_omni.staged_key_scope(staging_model, key_columns) -%}
    delete from {{ this }}
    {%- if scope is not none %}
    where ({{ key_columns | join(', ') }}) in ({{ scope }})
    {%- endif %}
{% endmacro %}
