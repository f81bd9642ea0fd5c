{#-
    Reads one raw Bitrix table as a relation with the columns declared for it in
    `_bitrix__sources.yml` (plus `extra_columns`), every column as text under its
    lower-case name. Staging models select from it and do the typing and cleaning.

    Why a macro and not a plain `source()`:
    - on DuckDB the tables are files (`<dir>/<table>.parquet`, a folder `<dir>/<table>/` of
      Parquet files, or `<dir>/<table>.csv`), on PostgreSQL a
      replicated schema whose column names may be upper case (quoted) or lower case;
    - a table of a module the site does not have (sender, CRM) must behave as an
      empty table, with a warning, not break the build;
    - an older Bitrix may lack newer columns: those read as NULL.
    `source()` is still called so the DAG, docs and lineage stay correct.
-#}
{% macro bitrix_source(table_name, extra_columns=[], loaded_since=none, physical=none) %}
    {%- set relation = source('bitrix', table_name) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set columns = bitrix_omni.bitrix_source_columns(table_name, extra_columns) -%}
    {%- set physical = physical or bitrix_omni.bitrix_source_physical(table_name) -%}
    {%- if physical['from'] is none -%}
        {{ return(bitrix_omni.bitrix_empty_relation(table_name, columns, physical['where_looked'])) }}
    {%- endif -%}
    {#- `loaded_since`: only the rows the replication loaded at or after that time (text
        'YYYY-MM-DD HH:MM:SS', compared with the table's own load-time column, see
        bitrix_loaded_at_column) -#}
    {%- set loaded_at = bitrix_omni.bitrix_loaded_at_column(physical) if loaded_since else none -%}
    {%- set body -%}
    (
        select
        {{- bitrix_omni.bitrix_select_columns(columns, physical['names']) }}
        from {{ physical['from'] }}
        {%- if loaded_at %}
        where {{ adapter.quote(loaded_at['name']) }} >= {{ bitrix_omni.sql_literal(loaded_since) }}
        {%- endif %}
    ) as raw_{{ table_name }}
    {%- endset -%}
    {{ return(body) }}
{% endmacro %}


{#-
    The raw table as stored: {'from': what to select from (NULL when the site lacks the
    table), 'names': its column names as stored, 'types': {upper-case name: data type},
    'where_looked': for the warning}.
-#}
{% macro bitrix_source_physical(table_name) %}
    {{ return(adapter.dispatch('bitrix_source_physical', 'bitrix_omni')(source('bitrix', table_name), table_name)) }}
{% endmacro %}


{#-
    The raw table's load-time column: the column named by the var
    `bitrix_omni_loaded_at_column` (matched case-insensitively) that the replication sets on
    every row it inserts or updates (`_fivetran_synced`, `_airbyte_extracted_at`,
    `_sdc_batched_at`, ...), as {'name': stored name, 'type': data type}; none when the var
    is empty or the table lacks the column. `physical` is bitrix_source_physical's result.
-#}
{% macro bitrix_loaded_at_column(physical) %}
    {%- set wanted = var('bitrix_omni_loaded_at_column', '') | trim | upper -%}
    {%- if wanted and physical['from'] is not none -%}
        {%- for name in physical['names'] if name | upper == wanted -%}
            {{ return({'name': name, 'type': physical['types'][wanted]}) }}
        {%- endfor -%}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#- The load time as a timestamp: text columns (a CSV file's) by the safe cast, typed ones
    by a plain cast (timestamptz: in the session's time zone, the same in every run). -#}
{% macro bitrix_loaded_at_timestamp(loaded_at) %}
    {%- set column = adapter.quote(loaded_at['name']) -%}
    {%- if 'char' in loaded_at['type'] or 'text' in loaded_at['type'] or loaded_at['type'] == 'string' -%}
        {{- return(bitrix_omni.safe_cast_timestamp('trim(' ~ column ~ ')')) -}}
    {%- endif -%}
    {{- return('cast(' ~ column ~ ' as ' ~ dbt.type_timestamp() ~ ')') -}}
{% endmacro %}


{#- The declared column names of a bitrix source table, upper case, in order, plus extras. -#}
{% macro bitrix_source_columns(table_name, extra_columns=[]) %}
    {%- set names = [] -%}
    {%- for node in graph.sources.values()
        if node.package_name == project_name
        and node.source_name == 'bitrix'
        and node.name == table_name -%}
        {%- for column_name in node.columns -%}
            {%- do names.append(column_name | upper) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if names | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "bitrix source table '" ~ table_name ~ "' declares no columns in _bitrix__sources.yml"
        ) }}
    {%- endif -%}
    {%- for column_name in extra_columns -%}
        {%- if column_name | upper not in names -%}
            {%- do names.append(column_name | upper) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{% endmacro %}


{#-
    The select list that maps the physical columns to the declared ones:
    physical name matched case-insensitively, cast to text, aliased lower case;
    declared columns the table lacks become NULL.
-#}
{% macro bitrix_select_columns(columns, physical_names) %}
    {%- set by_upper = {} -%}
    {%- for name in physical_names -%}
        {%- if name | upper not in by_upper -%}
            {%- do by_upper.update({name | upper: name}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for column_name in columns %}
        {%- if column_name in by_upper %}
        cast({{ adapter.quote(by_upper[column_name]) }} as {{ dbt.type_string() }})
        {%- else %}
        cast(null as {{ dbt.type_string() }})
        {%- endif %} as {{ column_name | lower }}
        {{- "," if not loop.last }}
    {%- endfor %}
{% endmacro %}


{#- An empty relation with the declared columns, for tables the site does not have. -#}
{% macro bitrix_empty_relation(table_name, columns, where_looked) %}
    {{ log(
        "WARNING bitrix_omni: raw table " ~ table_name ~ " not found in " ~ where_looked
        ~ "; it is read as an empty table (module not installed?)",
        info=True
    ) }}
    {%- set body -%}
    (
        select
        {%- for column_name in columns %}
            cast(null as {{ dbt.type_string() }}) as {{ column_name | lower }}
            {{- "," if not loop.last }}
        {%- endfor %}
        where 1 = 0
    ) as raw_{{ table_name }}
    {%- endset -%}
    {{ return(body) }}
{% endmacro %}


{#- PostgreSQL and other databases: the replicated schema named by the source. -#}
{% macro default__bitrix_source_physical(relation, table_name) %}
    {%- set found = bitrix_omni.bitrix_find_relation(relation.database, relation.schema, table_name) -%}
    {%- set physical = {'from': found, 'names': [], 'types': {}, 'where_looked': 'schema ' ~ relation.schema} -%}
    {%- if found is not none -%}
        {%- for column in adapter.get_columns_in_relation(found) -%}
            {%- do physical['names'].append(column.name) -%}
            {%- do physical['types'].update({column.name | upper: column.dtype | lower}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(physical) }}
{% endmacro %}


{#-
    The relation `identifier` of `schema` as the catalog lists it now (a table, view or
    materialized view), or none. The name matches exactly or, when none does, case-
    insensitively if just one does.

    Not `adapter.get_relation`: for a schema dbt did not cache at the start of the run
    (the replicated schema is not the project's) it lists the schema and adds the
    relations to its cache one at a time, and a thread asking in between is answered from
    the cache: a partial list, in which a present raw table is missing. Staging models
    start side by side on every thread, so that happened in ordinary runs: the table was
    then read as empty (a first build lost its rows; an incremental one would have
    deleted every staged row).
-#}
{% macro bitrix_find_relation(database, schema, identifier) %}
    {%- set listed = list_relations_without_caching(
        api.Relation.create(database=database, schema=schema).without_identifier()
    ) -%}
    {%- set exact = [] -%}
    {%- set folded = [] -%}
    {%- for row in listed.rows
        if row['schema'] | lower == schema | lower
        and row['type'] in ('table', 'view', 'materialized_view') -%}
        {%- if row['name'] == identifier -%}
            {%- do exact.append(row) -%}
        {%- elif row['name'] | lower == identifier | lower -%}
            {%- do folded.append(row) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set matches = exact or folded -%}
    {%- if matches | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            "bitrix_omni: schema " ~ schema ~ " holds " ~ matches | length ~ " relations named "
            ~ identifier ~ " (" ~ matches | map(attribute='name') | join(', ')
            ~ ") but one is read; rename or drop the others"
        ) }}
    {%- endif -%}
    {%- if not matches -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(api.Relation.create(
        database=database, schema=matches[0]['schema'], identifier=matches[0]['name'],
        type=matches[0]['type'],
    )) }}
{% endmacro %}


{#- DuckDB: per table in the data directory, the first that exists of a Parquet file
    `<table>.parquet`, a folder of Parquet files `<table>/` (any depth: a replication that
    writes one file per batch; files may differ in columns, matched by name) and a CSV file
    `<table>.csv`. -#}
{% macro duckdb__bitrix_source_physical(relation, table_name) %}
    {%- set data_dir = bitrix_omni.bitrix_data_dir() -%}
    {#- a namespace: a plain `set` inside a for loop does not leave the loop -#}
    {%- set found = namespace(reader=none) -%}
    {%- for pattern in ['.parquet', '/**/*.parquet', '.csv'] -%}
        {%- set path = data_dir ~ '/' ~ table_name ~ pattern -%}
        {%- if found.reader is none and run_query(
            "select count(*) from glob(" ~ bitrix_omni.sql_literal(path) ~ ")"
        ).columns[0].values()[0] > 0 -%}
            {%- if pattern == '.csv' -%}
                {%- set found.reader = bitrix_omni.bitrix_read_csv(path) -%}
            {%- else -%}
                {%- set found.reader = "read_parquet(" ~ bitrix_omni.sql_literal(path)
                    ~ ", union_by_name = true)" -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set physical = {'from': found.reader, 'names': [], 'types': {}, 'where_looked': data_dir} -%}
    {%- if found.reader is not none -%}
        {%- set described = run_query("select column_name, column_type from (describe select * from "
            ~ found.reader ~ ")") -%}
        {%- for row in described.rows -%}
            {%- do physical['names'].append(row[0]) -%}
            {%- do physical['types'].update({row[0] | upper: row[1] | lower}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(physical) }}
{% endmacro %}


{#-
    The CSV contract: header row, comma, double-quote quoting, UTF-8, empty = NULL.
    Every column is read as text (`all_varchar`) so dirty values reach staging,
    which casts them safely, instead of failing the read.
-#}
{% macro bitrix_read_csv(path) %}
    {{- return(
        "read_csv(" ~ bitrix_omni.sql_literal(path)
        ~ ", header = true, delim = ',', quote = '\"', escape = '\"'"
        ~ ", all_varchar = true, encoding = 'utf-8')"
    ) -}}
{% endmacro %}


{#- Directory of the raw files: BITRIX_DATA_DIR, else the bundled demo data. -#}
{% macro bitrix_data_dir() %}
    {%- set configured = var('bitrix_omni_data_dir', '') | trim -%}
    {%- if configured -%}
        {{ return(configured.rstrip('/')) }}
    {%- endif -%}
    {{ return(bitrix_omni.project_dir() ~ '/data/demo') }}
{% endmacro %}


{#- Absolute path of this dbt project, so relative defaults work from any cwd. -#}
{% macro project_dir() %}
    {%- set project_dir = flags.PROJECT_DIR if flags.PROJECT_DIR else '.' -%}
    {{ return(project_dir | string) }}
{% endmacro %}
