{#-
    Incremental staging on full-dump exports.

    A Bitrix export is a full dump of each table, and several tables have no change time
    (b_sale_order_props_value, b_uts_user, b_crm_field_multi ...), so new and changed rows
    are found by content: every staged row keeps `_source_row_hash`, a hash of the whole raw
    row it came from. An incremental run re-stages only the keys for which some raw row has
    no staged row with the same key and hash, with *all* raw rows of such a key (so replica
    de-duplication sees the same rows as a full build). A key that has no raw row any more
    (deleted in Bitrix) comes through the same read as a *tombstone*: one row with only the
    raw key column(s) set and no `_source_row_hash`, so `delete+insert` removes the key's
    staged row, and the post-hook `bitrix_delete_tombstones` removes the tombstone. The raw
    export is read once per run. The result equals a full build: an unchanged key has every
    raw row identical to the row that won.

    A staging model declares its raw table and key once, at the top:

        {%- set raw_table = {
            'name': 'b_sale_order',
            'key': {'order_id': "bx_int('id')"},
        } -%}
        {{ config(unique_key=raw_table['key'].keys() | list, meta={'bitrix_raw_table': raw_table}) }}

    `key` maps each staged key column to the cleaning-macro call that makes it from one raw
    column (exactly the expression of that column in the model, `bx_<kind>('<raw column>')`;
    the macro must give back a staged key from its own text, as bx_int, bx_ref and bx_code
    do, so that a tombstone reaches its key); optional `extra_columns` are passed to
    bitrix_source. The source CTE reads `bitrix_staging_source(raw_table)`; the post-hook
    (dbt_project.yml, all staging models) reads the same dict from the model's meta.
-#}


{#- A hash of the named columns (a whole raw row: the text columns as bitrix_source reads
    them), optionally of the relation `prefix` ('customers.'): NULL-safe and
    position-sensitive. The values are engine-specific; compare them within one database. -#}
{% macro bx_row_hash(columns, prefix='') %}
    {{- return(bitrix_omni.bx_hash([bitrix_omni.bitrix_quoted_csv(columns, prefix)])) -}}
{% endmacro %}


{#- Column names quoted and comma-separated. -#}
{% macro bitrix_quoted_csv(columns, prefix='') %}
    {%- set quoted = [] -%}
    {%- for column_name in columns -%}
        {%- do quoted.append(prefix ~ adapter.quote(column_name)) -%}
    {%- endfor -%}
    {{- return(quoted | join(', ')) -}}
{% endmacro %}


{#- The raw key expressions of a staging model: {staged column: rendered SQL}, in order. -#}
{% macro bitrix_raw_key_sql(raw_table) %}
    {%- set key_sql = {} -%}
    {%- for column_name, expression in raw_table['key'].items() -%}
        {%- do key_sql.update({column_name: render('{{ ' ~ expression ~ ' }}') | trim}) -%}
    {%- endfor -%}
    {%- if key_sql | length == 0 -%}
        {{ exceptions.raise_compiler_error("raw table " ~ raw_table['name'] ~ " declares no key") }}
    {%- endif -%}
    {{ return(key_sql) }}
{% endmacro %}


{#- The raw column each key is made from: {staged column: raw column}, from the key
    expressions `bx_<kind>('<raw column>')`. -#}
{% macro bitrix_raw_key_columns(raw_table) %}
    {%- set raw_columns = {} -%}
    {%- for column_name, expression in raw_table['key'].items() -%}
        {%- set found = modules.re.fullmatch("\\s*bx_[a-z]+\\(\\s*'([a-z0-9_]+)'\\s*\\)\\s*", expression) -%}
        {%- if found is none -%}
            {{ exceptions.raise_compiler_error(
                "raw table " ~ raw_table['name'] ~ ": key " ~ column_name ~ " must be made from one"
                ~ " raw column as bx_<kind>('<raw column>'), not " ~ expression
            ) }}
        {%- endif -%}
        {%- do raw_columns.update({column_name: found.group(1)}) -%}
    {%- endfor -%}
    {{ return(raw_columns) }}
{% endmacro %}


{#-
    The relation of a staging model's `source` CTE: the raw table as bitrix_source reads it,
    plus `_source_row_hash`. In an incremental run only the rows of changed keys and one
    tombstone per key gone from the export (see above); rows without a key are skipped there
    (staging drops them anyway).

    With a load-time column (var `bitrix_omni_loaded_at_column`, a column the replication
    sets on every row it inserts or updates) and a mark of the last run
    (`bitrix_omni_source_marks`), the changed keys are looked for only among the rows loaded
    since the mark, less `bitrix_omni_loaded_at_lookback_minutes`: the rest of the table is
    read for its keys (deleted keys) and for the rows of the changed keys, but not hashed
    and compared (bitrix_loaded_changes; models with a one-column key, on a raw table
    that can skip rows by the column: bitrix_loaded_at_pays_off). A row changed
    without a new load time is then not seen; a run with the var empty compares every row
    again.
-#}
{% macro bitrix_staging_source(raw_table) %}
    {#- while dbt parses the model too: the post-hook appends the tombstones there -#}
    {%- set deleted_keys = ref('stg_bitrix__deleted_keys') -%}
    {%- set extra_columns = raw_table.get('extra_columns', []) -%}
    {%- if not execute -%}
        {{ return(bitrix_omni.bitrix_source(raw_table['name'], extra_columns)) }}
    {%- endif -%}
    {%- set physical = bitrix_omni.bitrix_source_physical(raw_table['name']) -%}
    {%- set relation = bitrix_omni.bitrix_source(raw_table['name'], extra_columns, physical=physical) -%}
    {%- set columns = bitrix_omni.bitrix_source_columns(raw_table['name'], extra_columns)
        | map('lower') | list -%}
    {%- set row_hash = bitrix_omni.bx_row_hash(columns) -%}
    {#- checked in every run, so that a key a tombstone cannot carry fails the first build -#}
    {%- set raw_key_columns = bitrix_omni.bitrix_raw_key_columns(raw_table) -%}

    {#- `dbt build --empty` reads no raw rows: every staged key would look deleted -#}
    {%- if flags.EMPTY or not (is_incremental() and bitrix_omni.bitrix_has_row_hash(this)) -%}
        {%- set body -%}
    (
        select
            *,
            {{ row_hash }} as _source_row_hash
        from {{ relation }}
    ) as source_{{ raw_table['name'] }}
        {%- endset -%}
        {{ return(body) }}
    {%- endif -%}

    {#- read as empty, a raw table that went missing would turn every staged key into a
        tombstone: an outage of the replication must not delete the staged rows -#}
    {%- if physical['from'] is none and run_query(
        'select count(*) from (select 1 as found from ' ~ this ~ ' limit 1) as staged'
    ).rows[0][0] > 0 -%}
        {{ exceptions.raise_compiler_error(
            "bitrix_omni: raw table " ~ raw_table['name'] ~ " not found in "
            ~ physical['where_looked'] ~ ", but " ~ this ~ " holds rows staged from it; read"
            ~ " as empty it would delete them all, so nothing was changed. If the replication"
            ~ " lost the table, restore it and run again; if the site no longer has it,"
            ~ " rebuild the model: dbt build --full-refresh --select " ~ model.name
        ) }}
    {%- endif -%}

    {%- set key_sql = bitrix_omni.bitrix_raw_key_sql(raw_table) -%}
    {#- composite keys keep the full compare: PostgreSQL plans the text match of several
        columns as sorts and merge joins over every row (2x slower at 1M customers) -#}
    {%- set since = bitrix_omni.bitrix_loaded_since(physical) if key_sql | length == 1 else none -%}
    {%- set body -%}
    (
        with

        {%- if since %}
        {{ bitrix_omni.bitrix_loaded_changes(raw_table, relation, physical, since, columns, row_hash) }}
        {%- else %}

        hashed as (
            select
                {{ bitrix_omni.bitrix_quoted_csv(columns) }},
                {{ bitrix_omni.bitrix_raw_keys(key_sql) }},
                {{ row_hash }} as _source_row_hash
            from {{ relation }}
        ),

        {{ bitrix_omni.bitrix_changed_keys_cte(raw_table, 'hashed') }},

        {{ bitrix_omni.bitrix_gone_keys_cte(raw_table, 'hashed') }},

        changed_rows as (
            select hashed.*
            from hashed
            where {{ bitrix_omni.bitrix_has_changed_key(raw_table, 'hashed') }}
        )
        {%- endif %}

        select
            {{ bitrix_omni.bitrix_quoted_csv(columns, 'changed_rows.') }},
            changed_rows._source_row_hash
        from changed_rows

        union all

        -- tombstones: the key as raw text, everything else NULL, no row hash
        select
            {%- for column_name in columns %}
            {%- set key_position = (raw_key_columns.values() | list).index(column_name) + 1
                if column_name in raw_key_columns.values() else none %}
            {%- if key_position %}
            cast(gone_keys._source_key_{{ key_position }} as {{ dbt.type_string() }})
            {%- else %}
            cast(null as {{ dbt.type_string() }})
            {%- endif %} as {{ adapter.quote(column_name) }},
            {%- endfor %}
            null as _source_row_hash
        from gone_keys
    ) as changed_{{ raw_table['name'] }}
    {%- endset -%}
    {{ return(body) }}
{% endmacro %}


{#- The raw key expressions (bitrix_raw_key_sql) as `_source_key_<n>`, comma-separated. -#}
{% macro bitrix_raw_keys(key_sql) %}
    {%- for expression in key_sql.values() -%}
        {{ expression }} as _source_key_{{ loop.index }}{{ ", " if not loop.last }}
    {%- endfor -%}
{% endmacro %}


{#- The staged key columns (`staged`) as `_source_key_<n>`, the names the raw side uses. -#}
{% macro bitrix_staged_keys(raw_table) %}
    {%- for column_name in raw_table['key'] -%}
        staged.{{ adapter.quote(column_name) }} as _source_key_{{ loop.index }}
        {{- ", " if not loop.last }}
    {%- endfor -%}
{% endmacro %}


{#- Whether the row of `relation` (with _source_key_<n>) holds the key of the `staged` row. -#}
{% macro bitrix_is_staged_key(raw_table, relation) %}
    {%- for column_name in raw_table['key'] -%}
        {{ relation }}._source_key_{{ loop.index }} = staged.{{ adapter.quote(column_name) }}
        {{- " and " if not loop.last }}
    {%- endfor -%}
{% endmacro %}


{#- The `changed_keys` CTE: the keys of `candidates` (a CTE of _source_key_<n> and
    _source_row_hash) with a raw row that is not the staged row of that key. -#}
{% macro bitrix_changed_keys_cte(raw_table, candidates) %}
        -- keys with a raw row that is not the staged row of that key
        changed_keys as (
            select distinct
                {%- for _ in raw_table['key'] %}
                _source_key_{{ loop.index }}{{ "," if not loop.last }}
                {%- endfor %}
            from {{ candidates }}
            where
                {%- for _ in raw_table['key'] %}
                _source_key_{{ loop.index }} is not null and
                {%- endfor %}
                not exists (
                    select 1
                    from {{ this }} as staged
                    where
                        {{ bitrix_omni.bitrix_is_staged_key(raw_table, candidates) }}
                        and staged._source_row_hash = {{ candidates }}._source_row_hash
                )
        )
{%- endmacro %}


{#- The `gone_keys` CTE: the staged keys that no row of `raw_keys` (a CTE with
    _source_key_<n> for every raw row) has: deleted in Bitrix. -#}
{% macro bitrix_gone_keys_cte(raw_table, raw_keys) %}
        -- staged keys without a raw row: deleted in Bitrix
        gone_keys as (
            select {{ bitrix_omni.bitrix_staged_keys(raw_table) }}
            from {{ this }} as staged
            where not exists (
                select 1
                from {{ raw_keys }}
                where {{ bitrix_omni.bitrix_is_staged_key(raw_table, raw_keys) }}
            )
        )
{%- endmacro %}


{#- Whether the row of `relation` (with _source_key_<n>) has a key in `changed_keys`. -#}
{% macro bitrix_has_changed_key(raw_table, relation) %}
    exists (
                select 1
                from changed_keys
                where
                    {%- for _ in raw_table['key'] %}
                    changed_keys._source_key_{{ loop.index }} = {{ relation }}._source_key_{{ loop.index }}
                    {{- " and" if not loop.last }}
                    {%- endfor %}
            )
{%- endmacro %}


{#-
    The CTEs of a run that looks for changes among the rows loaded `since`: `changed_keys`,
    `gone_keys` and `changed_rows`, like the full compare, but only the rows loaded since
    are hashed and compared; the rest of the table is read for its keys (deleted keys) and
    for the rows of the changed keys (replica duplicates loaded earlier).
-#}
{% macro bitrix_loaded_changes(raw_table, relation, physical, since, columns, row_hash) %}
    {{ return(adapter.dispatch('bitrix_loaded_changes', 'bitrix_omni')(
        raw_table, relation, physical, since, columns, row_hash)) }}
{% endmacro %}


{#- The rows loaded since the mark, with their key and row hash (both paths). -#}
{% macro bitrix_recent_rows_cte(raw_table, physical, since, key_sql, row_hash) %}
        -- rows the replication loaded since the last run (less the lookback)
        recent as (
            select
                {{ bitrix_omni.bitrix_raw_keys(key_sql) }},
                {{ row_hash }} as _source_row_hash
            from {{ bitrix_omni.bitrix_source(
                raw_table['name'], raw_table.get('extra_columns', []), loaded_since=since,
                physical=physical) }}
        )
{%- endmacro %}


{#-
    DuckDB (Parquet files: bitrix_loaded_at_pays_off): the key of every raw row is cheap
    to compute here, and a read of the key column alone reads that column only. Deleted
    keys: the staged keys no raw key matches (an integer anti-join); the rows of a changed
    key: every raw row with that key.
-#}
{% macro duckdb__bitrix_loaded_changes(raw_table, relation, physical, since, columns, row_hash) %}
    {%- set key_sql = bitrix_omni.bitrix_raw_key_sql(raw_table) -%}
    {{ bitrix_omni.bitrix_recent_rows_cte(raw_table, physical, since, key_sql, row_hash) }},

        {{ bitrix_omni.bitrix_changed_keys_cte(raw_table, 'recent') }},

        -- every raw key (the reader reads the key column only; the anti-join below needs
        -- no distinct keys)
        raw_keys as (
            select
                {{ bitrix_omni.bitrix_raw_keys(key_sql) }}
            from {{ relation }}
        ),

        {{ bitrix_omni.bitrix_gone_keys_cte(raw_table, 'raw_keys') }},

        -- every raw row of a changed key
        changed_rows as (
            select
                {{ bitrix_omni.bitrix_quoted_csv(columns, 'keyed.') }},
                {{ bitrix_omni.bx_row_hash(columns, 'keyed.') }} as _source_row_hash
            from (
                select
                    *,
                    {{ bitrix_omni.bitrix_raw_keys(key_sql) }}
                from {{ relation }}
            ) as keyed
            where {{ bitrix_omni.bitrix_has_changed_key(raw_table, 'keyed') }}
        )
{%- endmacro %}


{#-
    PostgreSQL: without computing the key of every raw row (the safe cast is a pattern
    match per row). A staged key read as text (`cast(key as text)`) is what a raw key
    column holds, trimmed, for that key: every cleaning macro of a key trims first and
    gives that text back as the same key. So a raw row whose trimmed key text is a staged
    key's has that key; only the others (new keys, keys written another way: '07', '+7')
    get their key computed (`other_raw`). A staged key is gone when no raw row has its text
    and no other raw row its key; the rows of a changed key are those with its text plus
    the other raw rows with its key.
-#}
{% macro default__bitrix_loaded_changes(raw_table, relation, physical, since, columns, row_hash) %}
    {%- set key_sql = bitrix_omni.bitrix_raw_key_sql(raw_table) -%}
    {%- set raw_key_columns = bitrix_omni.bitrix_raw_key_columns(raw_table) -%}
    {#- the raw rows, under bitrix_source's alias `raw_<table>` -#}
    {%- set alias = 'raw_' ~ raw_table['name'] -%}
    {%- set text_match = [] -%}
    {%- for column_name, raw_column in raw_key_columns.items() -%}
        {%- do text_match.append('trim(' ~ alias ~ '.' ~ adapter.quote(raw_column) ~ ') = cast(staged.'
            ~ adapter.quote(column_name) ~ ' as ' ~ dbt.type_string() ~ ')') -%}
    {%- endfor %}
    {{ bitrix_omni.bitrix_recent_rows_cte(raw_table, physical, since, key_sql, row_hash) }},

        {{ bitrix_omni.bitrix_changed_keys_cte(raw_table, 'recent') }},

        -- raw rows whose key text is no staged key's: new keys and keys written another way
        other_raw as (
            select
                {{ alias }}.*,
                {{ bitrix_omni.bitrix_raw_keys(key_sql) }}
            from {{ relation }}
            where not exists (
                select 1
                from {{ this }} as staged
                where {{ text_match | join(' and ') }}
            )
        ),

        -- staged keys without a raw row: deleted in Bitrix
        gone_keys as (
            select {{ bitrix_omni.bitrix_staged_keys(raw_table) }}
            from {{ this }} as staged
            where
                not exists (
                    select 1
                    from {{ relation }}
                    where {{ text_match | join(' and ') }}
                )
                and not exists (
                    select 1
                    from other_raw
                    where {{ bitrix_omni.bitrix_is_staged_key(raw_table, 'other_raw') }}
                )
            -- a fence: PostgreSQL would push the model's key cleaning of the tombstones
            -- (a pattern match) down to every staged row, before the anti-joins
            offset 0
        ),

        -- the raw rows of the changed keys: those with a changed staged key's text, and the
        -- other raw rows with a changed key
        changed_rows as (
            select
                {{ bitrix_omni.bitrix_quoted_csv(columns, alias ~ '.') }},
                {{ bitrix_omni.bx_row_hash(columns, alias ~ '.') }} as _source_row_hash
            from {{ relation }}
            inner join (
                select staged.*
                from {{ this }} as staged
                inner join changed_keys
                    on {{ bitrix_omni.bitrix_is_staged_key(raw_table, 'changed_keys') }}
            ) as staged
                on {{ text_match | join(' and ') }}

            union all

            select
                {{ bitrix_omni.bitrix_quoted_csv(columns, 'other_raw.') }},
                {{ bitrix_omni.bx_row_hash(columns, 'other_raw.') }} as _source_row_hash
            from other_raw
            where {{ bitrix_omni.bitrix_has_changed_key(raw_table, 'other_raw') }}
        )
{%- endmacro %}


{#- The marks of the staging models that read a load-time column: the newest load time
    of the raw table when the model last ran (macros/staging/bitrix_incremental.sql). -#}
{% macro source_marks_relation() %}
    {{- return(api.Relation.create(
        database=target.database, schema=target.schema, identifier='bitrix_omni_source_marks'
    )) -}}
{% endmacro %}

{% macro create_source_marks() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set marks = bitrix_omni.source_marks_relation() -%}
    {%- do adapter.create_schema(marks) -%}
    {{ return(
        'create table if not exists ' ~ marks ~ ' (model_name ' ~ dbt.type_string()
        ~ ', raw_table ' ~ dbt.type_string() ~ ', loaded_through ' ~ dbt.type_timestamp() ~ ')'
    ) }}
{% endmacro %}


{#- Where this run's look for changed rows starts ('YYYY-MM-DD HH:MM:SS'): this model's
    mark less `bitrix_omni_loaded_at_lookback_minutes` (rows the replication commits late,
    or stamps before it commits them, must fall inside it); none (compare every row) when
    the raw table has no load-time column, cannot skip rows by it, or the model has no
    mark yet. -#}
{% macro bitrix_loaded_since(physical) %}
    {%- set marks = bitrix_omni.source_marks_relation() -%}
    {%- if bitrix_omni.bitrix_loaded_at_column(physical) is none
        or not bitrix_omni.bitrix_loaded_at_pays_off(physical)
        or adapter.get_relation(database=marks.database, schema=marks.schema,
            identifier=marks.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set lookback = bitrix_omni.bitrix_loaded_at_lookback() -%}
    {%- set found = run_query(
        'select max(loaded_through) from ' ~ marks ~ ' where model_name = '
        ~ bitrix_omni.sql_literal(this.identifier)
    ).columns[0].values()[0] -%}
    {%- if found is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return((found - modules.datetime.timedelta(minutes=lookback)).strftime('%Y-%m-%d %H:%M:%S')) }}
{% endmacro %}


{#- Whether reading only the rows loaded since the mark saves work on this raw table: a
    table (PostgreSQL; an index on the column lets the scan skip the rest) or a Parquet
    file (row groups skipped by the column's statistics), not a CSV file, which is parsed
    whole by every read: comparing all its rows in one read costs less than the load-time
    path's three reads. -#}
{% macro bitrix_loaded_at_pays_off(physical) %}
    {{ return(adapter.dispatch('bitrix_loaded_at_pays_off', 'bitrix_omni')(physical)) }}
{% endmacro %}

{% macro default__bitrix_loaded_at_pays_off(physical) %}
    {{ return(true) }}
{% endmacro %}

{% macro duckdb__bitrix_loaded_at_pays_off(physical) %}
    {{ return((physical['from'] | string).startswith('read_parquet(')) }}
{% endmacro %}


{% macro bitrix_loaded_at_lookback() %}
    {%- set lookback = var('bitrix_omni_loaded_at_lookback_minutes', 1440) -%}
    {%- if lookback is not number or lookback < 0 -%}
        {{ exceptions.raise_compiler_error(
            "bitrix_omni_loaded_at_lookback_minutes must be a number of minutes >= 0, not "
            ~ lookback
        ) }}
    {%- endif -%}
    {{ return(lookback) }}
{% endmacro %}


{#- Post-hook of the staging models: the mark of a model whose raw table has the load-time
    column, the newest load time in it now (rows loaded while the model ran, with an older
    load time, are read again by the next run: the lookback covers them); no mark
    otherwise, so a run after the column or the var appears compares every row. -#}
{% macro bitrix_record_loaded_through() %}
    {%- set raw_table = config.meta_get('bitrix_raw_table') if execute else none -%}
    {%- if not raw_table or flags.EMPTY or config.get('materialized') != 'incremental' -%}
        {{ return('') }}
    {%- endif -%}
    {#- the raw table is looked up only when a load-time column is named -#}
    {%- set physical = bitrix_omni.bitrix_source_physical(raw_table['name'])
        if var('bitrix_omni_loaded_at_column', '') | trim else none -%}
    {%- set loaded_at = bitrix_omni.bitrix_loaded_at_column(physical) if physical else none -%}
    {%- set marks = bitrix_omni.source_marks_relation() -%}
    {%- if loaded_at -%}
        {%- do bitrix_omni.bitrix_loaded_at_lookback() -%}
    {%- endif %}
    delete from {{ marks }} where model_name = {{ bitrix_omni.sql_literal(this.identifier) }}
    {%- if loaded_at %};
    insert into {{ marks }} (model_name, raw_table, loaded_through)
    select
        {{ bitrix_omni.sql_literal(this.identifier) }},
        {{ bitrix_omni.sql_literal(raw_table['name']) }},
        max({{ bitrix_omni.bitrix_loaded_at_timestamp(loaded_at) }})
    from {{ physical['from'] }}
    {%- endif %}
{% endmacro %}


{#- Whether the stored table has the row hash: a table built before incremental staging
    lacks it; that run then selects every row and `on_schema_change: fail` asks for
    `--full-refresh`. -#}
{% macro bitrix_has_row_hash(relation) %}
    {{ return(bitrix_omni.relation_has_column(relation, '_source_row_hash')) }}
{% endmacro %}


{% macro relation_has_column(relation, column_name) %}
    {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name')
        | map('lower') | list -%}
    {{ return(column_name in names) }}
{% endmacro %}


{#-
    Post-hooks of the staging models (dbt_project.yml): in an incremental run, append the
    tombstones' keys to stg_bitrix__deleted_keys (as text; a composite key's columns joined
    by '|'), then delete the tombstones (rows without `_source_row_hash`) that removed the
    keys gone from the source (hard deletes in the source show up in a full dump only as
    missing keys). A model without `bitrix_raw_table` meta, and any run that is not
    incremental, gets no statement.
-#}
{% macro bitrix_log_tombstones() %}
    {%- set raw_table = bitrix_omni.bitrix_tombstone_hook_table() -%}
    {%- if not raw_table -%}
        {{ return('') }}
    {%- endif -%}
    {%- set key_text = [] -%}
    {%- for column_name in raw_table['key'] -%}
        {%- do key_text.append('cast(' ~ adapter.quote(column_name) ~ ' as '
            ~ dbt.type_string() ~ ')') -%}
    {%- endfor -%}
    insert into {{ ref('stg_bitrix__deleted_keys') }} (raw_table, deleted_key, deleted_at)
    select
        '{{ raw_table["name"] }}',
        {{ key_text | join(" || '|' || ") }},
        {{ bitrix_omni.run_stamp() }}
    from {{ this }}
    where _source_row_hash is null
{% endmacro %}


{% macro bitrix_delete_tombstones() %}
    {%- if not bitrix_omni.bitrix_tombstone_hook_table() -%}
        {{ return('') }}
    {%- endif -%}
    delete from {{ this }}
    where _source_row_hash is null
{% endmacro %}


{#- The model's raw table (meta `bitrix_raw_table`) when its tombstone hooks write (an
    incremental run of a staging model), else none. -#}
{% macro bitrix_tombstone_hook_table() %}
    {%- set raw_table = config.meta_get('bitrix_raw_table') if execute else none -%}
    {{ return(raw_table if raw_table and bitrix_omni.incremental_hook_runs() else none) }}
{% endmacro %}
