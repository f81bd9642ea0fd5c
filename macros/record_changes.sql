{#-
    Change propagation from staging to the identity record layer.

    Staging stamps every row it (re)stages with the run's start time (`_staged_at`, see
    `run_stamp`). `int_identity__record_changes` turns the rows staged since its last batch
    (deleted rows: staging's tombstones, `stg_bitrix__deleted_keys`) into the identity records
    they touch and appends them as a batch (`logged_at`); the record-keyed models (records,
    identifiers, links, normalized identifiers, record fingerprints, usable identifiers,
    identity evidence) then rebuild only the records of the batches logged after their own
    newest `_changed_at`, instead of re-reading every staged row. See the log model for the
    rules that map a staged row to the records it touches.

    A consumer rebuilds everything instead (and its pre-hook empties it first) when it has
    no `_changed_at` yet (first build, or a table built before this existed), when the log
    no longer reaches back to its newest `_changed_at` (the log was rebuilt: first build,
    --full-refresh, a changed config, or a run that re-staged a large share of the rows),
    and in --full-refresh runs.
-#}


{#- The run's start time as a timestamp literal: one value for every row a run writes. -#}
{% macro run_stamp() %}
    {{- return("cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as "
        ~ dbt.type_timestamp() ~ ")") -}}
{% endmacro %}


{#- `_changed_at` of the rows a record-layer model writes: this run's start, or the newest
    `_changed_at` of a record-layer model it reads (`upstream`) if that is older. A model
    run without its upstream (a partial selection) may apply log batches that upstream has
    not applied yet; stamped no later than upstream, it applies them again once upstream has
    (a model that wrote no rows in its last run only makes the next scope larger). -#}
{% macro record_position(upstream) %}
    {%- set stamp = bitrix_omni.run_stamp() -%}
    {%- if not execute -%}
        {{ return(stamp) }}
    {%- endif -%}
    {%- set positions = [] -%}
    {%- for model in upstream -%}
        {%- set relation = ref(model) -%}
        {%- if bitrix_omni.relation_has_column(relation, '_changed_at') -%}
            {%- do positions.append('select max(_changed_at) as position from ' ~ relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set position = run_query(
        'select min(position) from (' ~ positions | join(' union all ') ~ ') as positions'
    ).rows[0][0] if positions else none -%}
    {%- if position is none -%}
        {{ return(stamp) }}
    {%- endif -%}
    {{ return('least(' ~ stamp ~ ', ' ~ bitrix_omni.timestamp_literal(position) ~ ')') }}
{%- endmacro %}


{#- A timestamp value read back from the warehouse, as a literal. -#}
{% macro timestamp_literal(value) %}
    {{- return("cast('" ~ value ~ "' as " ~ dbt.type_timestamp() ~ ")") -}}
{% endmacro %}


{#- The newest value of the timestamp `column` in `relation`, as a literal; none when the
    relation has no row (or no value). -#}
{% macro newest_stamp(relation, column) %}
    {%- set value = run_query('select max(' ~ column ~ ') from ' ~ relation).rows[0][0] -%}
    {{ return(bitrix_omni.timestamp_literal(value) if value is not none else none) }}
{% endmacro %}


{#- The final select of a staging model: the rows of `relation` (its de-duplicated rows;
    stamped after de-duplication, so the winner of a tie never depends on the run) with
    `_staged_at`: this run's start, except for a key whose row is the one already staged
    (same `_source_row_hash`), which keeps its stamp. A key with replica duplicates is
    re-staged by every incremental run (its losing raw rows have no staged row), and the
    record log must not see it as changed every hour. -#}
{% macro bitrix_stamped(relation, raw_table) %}
    {%- set restamp = not (execute and is_incremental()
        and bitrix_omni.relation_has_column(this, '_staged_at')) -%}
select
    {{ relation }}.*,
    {%- if restamp %}
    {{ bitrix_omni.run_stamp() }} as _staged_at
from {{ relation }}
    {%- else %}
    coalesce(previous._staged_at, {{ bitrix_omni.run_stamp() }}) as _staged_at
from {{ relation }}
left join {{ this }} as previous
    on
        {%- for column_name in raw_table['key'] %}
        previous.{{ adapter.quote(column_name) }} = {{ relation }}.{{ adapter.quote(column_name) }}
        and
        {%- endfor %}
        previous._source_row_hash = {{ relation }}._source_row_hash
    {%- endif %}
{%- endmacro %}


{#- Pre-hook of the staging models: a staging table built before `_staged_at` existed gets
    the column (NULL: staged before any change the record log has to pick up), so the
    incremental run that follows the upgrade needs no --full-refresh. -#}
{% macro bitrix_add_staged_at() %}
    {%- if not execute or not config.meta_get('bitrix_raw_table') or not is_incremental()
        or bitrix_omni.relation_has_column(this, '_staged_at') -%}
        {{ return('') }}
    {%- endif -%}
    alter table {{ this }} add column _staged_at {{ dbt.type_timestamp() }}
{% endmacro %}


{#- The staging relations the record log reads: the Bitrix table (the log's origin_table),
    the staging model and its key. -#}
{% macro record_change_origins() %}
    {{ return([
        {'table': 'b_user', 'model': 'stg_bitrix__users', 'key': 'user_id'},
        {'table': 'b_sale_fuser', 'model': 'stg_bitrix__sale_fusers', 'key': 'fuser_id'},
        {'table': 'b_sale_basket', 'model': 'stg_bitrix__basket_items', 'key': 'basket_item_id'},
        {'table': 'b_sale_order', 'model': 'stg_bitrix__orders', 'key': 'order_id'},
        {'table': 'b_sale_order_props_value', 'model': 'stg_bitrix__order_prop_values',
            'key': 'order_prop_value_id'},
        {'table': 'b_sale_order_props', 'model': 'stg_bitrix__order_props', 'key': 'order_prop_id'},
        {'table': 'b_crm_field_multi', 'model': 'stg_bitrix__crm_communications',
            'key': 'communication_id'},
        {'table': 'b_crm_contact', 'model': 'stg_bitrix__crm_contacts', 'key': 'contact_id'},
        {'table': 'b_crm_lead', 'model': 'stg_bitrix__crm_leads', 'key': 'lead_id'},
        {'table': 'b_uts_crm_contact', 'model': 'stg_bitrix__crm_contact_fields',
            'key': 'contact_id'},
    ]) }}
{% endmacro %}


{#- What the record layer's rows depend on besides the staged rows: the vars it reads and
    a version of the log's rules. A change makes the log (and so every consumer) rebuild. -#}
{% macro record_changes_config_key() %}
    {{ return(local_md5(tojson([
        'record-changes-1',
        var('bitrix_omni_order_email_prop_codes'),
        var('bitrix_omni_order_phone_prop_codes'),
        var('bitrix_omni_contact_site_user_field'),
    ]))) }}
{% endmacro %}


{#- Where the record log stands: none when it is to be built whole (not an incremental run,
    empty, another config, or more than `bitrix_omni_record_changes_rebuild_share` of the
    staged rows re-staged since), else {'since': the literal of its newest `logged_at`,
    'rebuilt': the record_change_origins entries whose every staged row was staged after it
    (rebuilt whole: a --full-refresh, or the first incremental run after the upgrade, so
    their deletions left no tombstones)}. One count per staging table answers both. -#}
{% macro record_changes_state() %}
    {%- if not (execute and this is not none and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set stored = run_query(
        "select max(logged_at), min(config_key), max(config_key) from " ~ this
    ).rows[0] -%}
    {%- set config_key = bitrix_omni.record_changes_config_key() -%}
    {%- if stored[0] is none or stored[1] != config_key or stored[2] != config_key -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since = bitrix_omni.timestamp_literal(stored[0]) -%}
    {%- set origins = bitrix_omni.record_change_origins() -%}
    {%- set counts = [] -%}
    {%- for origin in origins -%}
        {%- do counts.append(
            "select " ~ loop.index0 ~ " as position,"
            ~ " count(case when _staged_at > " ~ since ~ " then 1 end) as restaged,"
            ~ " count(*) as staged from " ~ ref(origin['model'])
        ) -%}
    {%- endfor -%}
    {%- set rows = run_query(counts | join(' union all ')).rows -%}
    {%- set rebuilt = [] -%}
    {%- set totals = {'restaged': 0, 'staged': 0} -%}
    {%- for position, restaged, staged in rows -%}
        {%- do totals.update({
            'restaged': totals['restaged'] + restaged, 'staged': totals['staged'] + staged,
        }) -%}
        {%- if staged > 0 and restaged == staged -%}
            {%- do rebuilt.append(origins[position | int]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set share = var('bitrix_omni_record_changes_rebuild_share') -%}
    {%- if totals['staged'] and totals['restaged'] > totals['staged'] * share -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return({'since': since, 'rebuilt': rebuilt}) }}
{% endmacro %}


{#- Pre-hook of the record log: empty it before a run that rebuilds it whole. -#}
{% macro record_changes_pre_hook() %}
    {%- if bitrix_omni.incremental_hook_runs() and bitrix_omni.record_changes_state() is none -%}
        delete from {{ this }}
    {%- endif -%}
{% endmacro %}


{#- A consumer's watermark: the literal of its newest `_changed_at`, or none when it is to
    be built whole (see the top of this file). -#}
{% macro record_scope_since() %}
    {#- called while dbt parses the model too: the ref makes the log a parent of it -#}
    {%- set record_changes = ref('int_identity__record_changes') -%}
    {%- if not (execute and this is not none and is_incremental())
        or not bitrix_omni.relation_has_column(this, '_changed_at') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since = bitrix_omni.newest_stamp(this, '_changed_at') -%}
    {%- if since is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set reach = run_query(
        "select count(*) from (select 1 as found from " ~ record_changes
        ~ " where logged_at <= " ~ since ~ " limit 1) as reached"
    ).rows[0][0] -%}
    {{ return(since if reach > 0 else none) }}
{% endmacro %}


{#- The records logged after `since`, as `record_key` (a query). -#}
{% macro changed_record_keys(since) %}
    select distinct
        {{ bitrix_omni.identity_record_key('changes.record_table', 'changes.record_id') }}
            as record_key
    from {{ ref('int_identity__record_changes') }} as changes
    where changes.logged_at > {{ since }}
{%- endmacro %}


{#- A condition on `id_column` (the id of a record of `record_table`): always true when
    the model is built whole (`since` none), else the id is one of a logged record. -#}
{% macro in_changed_records(record_table, id_column, since) %}
    {%- if since is none -%}
        true
    {%- else -%}
        {{ id_column }} in (
            select changes.record_id
            from {{ ref('int_identity__record_changes') }} as changes
            where
                changes.logged_at > {{ since }}
                and changes.record_table = '{{ record_table }}'
        )
    {%- endif -%}
{% endmacro %}


{#- The keys of a `record_scope` query as what a condition `column in <...>` needs: a
    literal list when the scope is small (a filter on the scan itself, where DuckDB skips
    what does not match; a join with the scope would read every row first), else
    `subquery` (by default one of the model's `scope` CTE); none when the model is built
    whole. -#}
{% macro scope_keys(scope, subquery='(select scope.record_key from scope)') %}
    {%- if scope is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(subquery) }}
    {%- endif -%}
    {%- set limit = 20000 -%}
    {%- set keys = run_query(
        'select distinct record_key from (' ~ scope ~ ') as scoped'
        ~ ' where record_key is not null limit ' ~ (limit + 1)
    ).columns[0].values() -%}
    {%- if keys | length > limit -%}
        {{ return(subquery) }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for key in keys | sort -%}
        {%- do literals.append(bitrix_omni.sql_literal(key)) -%}
    {%- endfor -%}
    {{ return('(' ~ (literals | join(', ') if literals else 'null') ~ ')') }}
{%- endmacro %}


{#- A condition keeping the rows whose `column` is one of `keys` (scope_keys), or true
    when the model is built whole (`keys` none). -#}
{% macro in_scope_cte(column, keys) %}
    {%- if keys is none -%}
        true
    {%- else -%}
        {{ column }} in {{ keys }}
    {%- endif -%}
{% endmacro %}


{#- The records whose e-mails or phones the normalization cache (re)normalized after the
    newest `_normalized_through` of the model (the cache's newest `normalized_at` when the
    model's rows were written; a new normalizer version restamps every value), as
    `record_key` (a query), or none when the model has no such stamp yet. `renormalized`
    says where the model reads values from: 'identifiers' (the normalized identifier rows,
    which carry `normalized_at`) or 'values' (the raw identifier rows, looked up in the
    cache). -#}
{% macro renormalized_record_keys(renormalized) %}
    {%- set through = bitrix_omni.newest_stamp(this, '_normalized_through') -%}
    {%- if through is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
    {%- if renormalized == 'identifiers' %}
    select normalized.record_key
    from {{ ref('int_identity__normalized_identifiers') }} as normalized
    where normalized.normalized_at > {{ through }}
    {%- else %}
    select identifiers.record_key
    from {{ ref('int_identity__identifiers') }} as identifiers
    inner join {{ ref('int_identity__normalized_values') }} as normalized_values
        on
            identifiers.identifier_kind = normalized_values.identifier_kind
            and identifiers.value_raw = normalized_values.value_raw
    where normalized_values.normalized_at > {{ through }}
    {%- endif %}
    {%- endset -%}
    {{ return(query) }}
{%- endmacro %}


{#- The records the registry (re)wrote after the newest `resolved_at` of the model (a
    re-resolved customer, a new guard verdict on a value, a record gone: the registry
    stamps every change), as `record_key` (a query), or none when the model has none;
    with `linked`, also the records with a link to one of them. -#}
{% macro remapped_record_keys(linked=false) %}
    {%- set resolved = bitrix_omni.newest_stamp(this, 'resolved_at') -%}
    {%- if resolved is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
    select registry.record_key
    from {{ ref('int_identity__customer_registry') }} as registry
    where registry.resolved_at > {{ resolved }}
    {%- if linked %}
    union
    select links.record_key
    from {{ ref('int_identity__links') }} as links
    inner join {{ ref('int_identity__customer_registry') }} as linked_registry
        on links.other_record_key = linked_registry.record_key
    where linked_registry.resolved_at > {{ resolved }}
    {%- endif %}
    {%- endset -%}
    {{ return(query) }}
{%- endmacro %}


{#- `_normalized_through` of the rows a model writes: the newest `normalized_at` of
    `model` (a scalar subquery on the relation itself, not on the model's CTE: a CTE read
    twice is materialized whole, before the scope's filter could reach its scan). -#}
{% macro normalized_through(model) %}
    {{- '(select max(through.normalized_at) from ' ~ ref(model) ~ ' as through)' -}}
{%- endmacro %}


{#- The scope of a consumer as a query of `record_key`s, or none when it is built whole:
    the records logged after its newest `_changed_at`; with `renormalized`, the records of
    `renormalized_record_keys(renormalized)`; with `remapped`, those of
    `remapped_record_keys(linked)`. -#}
{% macro record_scope(renormalized=none, remapped=false, linked=false) %}
    {%- set since = bitrix_omni.record_scope_since() -%}
    {%- if since is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parts = [bitrix_omni.changed_record_keys(since)] -%}
    {%- if renormalized -%}
        {%- do parts.append(bitrix_omni.renormalized_record_keys(renormalized)) -%}
    {%- endif -%}
    {%- if remapped -%}
        {%- do parts.append(bitrix_omni.remapped_record_keys(linked)) -%}
    {%- endif -%}
    {%- if none in parts -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(parts | join('\n    union\n')) }}
{%- endmacro %}


{#- Pre-hook of a consumer: delete the rows it is about to rebuild (all of them when it is
    built whole in an incremental run); the arguments as in record_scope. -#}
{% macro delete_changed_records(renormalized=none, remapped=false, linked=false) %}
    {%- if not bitrix_omni.incremental_hook_runs() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set scope = bitrix_omni.record_scope(renormalized, remapped, linked) -%}
    {%- if scope is none -%}
        delete from {{ this }}
    {%- else -%}
        {#- a hook has no `scope` CTE: the scope's query itself when it is large -#}
        delete from {{ this }}
        where record_key in {{ bitrix_omni.scope_keys(scope, '(' ~ scope ~ ')') }}
    {%- endif -%}
{% endmacro %}


{#- The record log's rules: (origin table, its CTE in the log model, origin id, record
    table, record id, condition): the records each staged row touches. -#}
{% macro record_change_touches() %}
    {%- set crm_identifier =
        "communication_type in ('EMAIL', 'PHONE') and entity_id is not null" -%}
    {{ return([
        ('b_user', 'users', 'user_id', 'b_user', 'user_id', none),
        ('b_sale_fuser', 'fusers', 'fuser_id', 'b_sale_fuser', 'fuser_id', none),
        ('b_sale_fuser', 'fusers', 'fuser_id', 'b_user', 'user_id', 'user_id is not null'),
        ('b_sale_basket', 'basket_items', 'basket_item_id', 'b_sale_fuser', 'fuser_id',
            'fuser_id is not null and order_id is not null'),
        ('b_sale_basket', 'basket_items', 'basket_item_id', 'b_sale_order', 'order_id',
            'fuser_id is not null and order_id is not null'),
        ('b_sale_order', 'orders', 'order_id', 'b_sale_order', 'order_id', none),
        ('b_sale_order', 'orders', 'order_id', 'b_user', 'user_id', 'user_id is not null'),
        ('b_sale_order_props_value', 'order_prop_values', 'order_prop_value_id', 'b_sale_order',
            'order_id', 'order_id is not null'),
        ('b_sale_order_props', 'order_props', 'order_prop_id', 'b_sale_order_props',
            'order_prop_id', none),
        ('b_crm_field_multi', 'communications', 'communication_id', 'b_crm_contact', 'entity_id',
            "entity_type = 'CONTACT' and " ~ crm_identifier),
        ('b_crm_field_multi', 'communications', 'communication_id', 'b_crm_lead', 'entity_id',
            "entity_type = 'LEAD' and " ~ crm_identifier),
        ('b_crm_contact', 'contacts', 'contact_id', 'b_crm_contact', 'contact_id', none),
        ('b_crm_contact', 'contacts', 'contact_id', 'b_crm_lead', 'lead_id', 'lead_id is not null'),
        ('b_crm_lead', 'leads', 'lead_id', 'b_crm_lead', 'lead_id', none),
        ('b_crm_lead', 'leads', 'lead_id', 'b_crm_contact', 'contact_id', 'contact_id is not null'),
        ('b_uts_crm_contact', 'contact_fields', 'contact_id', 'b_crm_contact', 'contact_id', none),
        ('b_uts_crm_contact', 'contact_fields', 'contact_id', 'b_user', 'site_user_id',
            'site_user_id is not null'),
    ]) }}
{% endmacro %}


{#- (changed origin table, record table, CTE, record id, the CTE's column holding the
    changed origin's id): the records that depend on a changed origin by lookup. -#}
{% macro record_change_lookups() %}
    {{ return([
        ('b_user', 'b_sale_fuser', 'fusers', 'fuser_id', 'user_id'),
        ('b_user', 'b_sale_order', 'orders', 'order_id', 'user_id'),
        ('b_user', 'b_crm_contact', 'contact_fields', 'contact_id', 'site_user_id'),
        ('b_sale_order_props', 'b_sale_order', 'order_prop_values', 'order_id', 'order_prop_id'),
    ]) }}
{% endmacro %}


{#- The log model's parts (see int_identity__record_changes). The origins with a row
    staged after `since`. -#}
{% macro record_changes_restaged(since) %}
    {%- for origin in bitrix_omni.record_change_origins() %}
    select
        '{{ origin["table"] }}' as origin_table,
        {{ origin['key'] }} as origin_id
    from {{ ref(origin['model']) }}
    where _staged_at > {{ since }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{#- The records the origins touch; with `since`, only the origins in the CTE `changed`. -#}
{% macro record_changes_touched(since) %}
    {%- for touch in bitrix_omni.record_change_touches() %}
    select
        '{{ touch[0] }}' as origin_table,
        {{ touch[2] }} as origin_id,
        '{{ touch[3] }}' as record_table,
        {{ touch[4] }} as record_id
    from {{ touch[1] }}
    where
        {{ touch[5] or 'true' }}
        {%- if since is not none %}
        and {{ touch[2] }} in (
            select changed.origin_id
            from changed
            where changed.origin_table = '{{ touch[0] }}'
        )
        {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{#- The records depending by lookup on the origins in the CTE `changed`, as log rows. -#}
{% macro record_changes_lookups() %}
    {%- for lookup in bitrix_omni.record_change_lookups() %}
    select
        changed.origin_table,
        changed.origin_id,
        '{{ lookup[1] }}' as record_table,
        {{ lookup[2] }}.{{ lookup[3] }} as record_id,
        false as is_current
    from {{ lookup[2] }}
    inner join changed
        on
            changed.origin_table = '{{ lookup[0] }}'
            and {{ lookup[2] }}.{{ lookup[4] }} = changed.origin_id
    where {{ lookup[2] }}.{{ lookup[3] }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
