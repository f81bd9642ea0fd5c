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
        fingerprints as (
            {{ key_fingerprints('customer_uuid', [
                {'relation': 'identity_map', 'columns': ['record_key', 'first_seen_at']},
            ]) }}
        ),
        scope as (  -- noqa: ST03
            {{ keys_to_build('customer_uuid', 'fingerprints') }}
        ),
        scoped_map as (select * from identity_map where {{ in_scope('customer_uuid') }}),
        ...
        select ..., fingerprints.input_fingerprint as _input_fingerprint

    In a full build (first run, `--full-refresh`) the scope is every key and `in_scope`
    renders `true` (so `scope` is unused there: hence the `noqa: ST03` for sqlfluff).
    A changed model or seed still needs `--full-refresh`; changed vars do not when the
    model hashes them with its inputs. Keys with several rows (a journey) are fine: the
    fingerprint is on each row and delete+insert replaces all rows of a key.
-#}


{#- A hash of SQL expressions: NULL-safe and position-sensitive. Engine-specific values. -#}
{% macro bx_hash(expressions) %}
    {{- return(adapter.dispatch('bx_hash', 'bitrix_omni')(expressions)) -}}
{% endmacro %}

{% macro default__bx_hash(expressions) %}
    hashtextextended(cast(row({{ expressions | join(', ') }}) as text), 0)
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


{#- The same fingerprint as `key_fingerprints` with one input, as a window over that input's
    rows (for a model with one output row per input row: no join to attach it; `in_scope`
    keeps all rows of a key together). -#}
{% macro fingerprint_over(key, columns) %}
    cast(
        sum({{ bitrix_omni.bx_hash(columns) }}) over (partition by {{ key }})
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
    a tombstone row for them (see `tombstone_keys`). -#}
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


{#- For a model whose key can lose all its rows while its inputs remain: the scoped keys
    without fingerprint (in a full build none), as rows `key` and NULL in `columns`
    ({name: SQL type}) and `_input_fingerprint`. delete+insert then deletes the key's stored
    rows, and the post-hook `delete_tombstones()` the tombstone itself. -#}
{% macro tombstone_keys(key, fingerprints, columns) %}
    select
        scope.scope_key as {{ key }},
        {%- for column_name, data_type in columns.items() %}
        cast(null as {{ data_type }}) as {{ column_name }},
        {%- endfor %}
        cast(null as {{ bitrix_omni.fingerprint_type() }}) as _input_fingerprint
    from scope
    where
        {%- if bitrix_omni.is_scoped_run() %}
        not exists (
            select 1
            from {{ fingerprints }}
            where {{ fingerprints }}.{{ key }} = scope.scope_key
        )
        {%- else %}
        false
        {%- endif %}
{%- endmacro %}


{#- Post-hook of models with tombstone rows. -#}
{% macro delete_tombstones() %}
    delete from {{ this }} where _input_fingerprint is null
{% endmacro %}


{#- A condition keeping the rows of keys in scope (always true in a full build). -#}
{% macro in_scope(column) %}
    {%- if bitrix_omni.is_scoped_run() -%}
        {{ column }} in (select scope.scope_key from scope)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- An incremental run on a table that has fingerprints (never in a dbt unit test, which
    has no `this`). -#}
{% macro is_scoped_run() %}
    {{ return(
        execute and this is not none and is_incremental()
        and bitrix_omni.relation_has_column(this, '_input_fingerprint')
    ) }}
{% endmacro %}


{#- Pre-hook: delete the rows of keys that are no longer in `universe` (a model name),
    optionally only its rows with the given {column: text value}. No statement outside
    incremental runs. -#}
{% macro delete_keys_without_inputs(key, universe, values={}) %}
    {%- if not execute or not is_incremental() -%}
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
