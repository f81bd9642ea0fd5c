{#-
    Every distinct (utm_source, utm_medium) pair seen anywhere, classified by the
    ordered channel_rules seed: the first rule (lowest priority number) whose
    patterns both match wins; no match -> 'unassigned'. Classifying distinct
    pairs keeps the rule join small however many touchpoints there are.
-#}
with

user_fields as (
    select * from {{ ref('stg_bitrix__user_fields') }}
),

crm_utm as (
    select * from {{ ref('int_journeys__crm_utm') }}
),

channel_rules as (
    select * from {{ ref('channel_rules') }}
),

raw_pairs as (
    select
        utm_source,
        utm_medium
    from user_fields
    union all
    select
        utm_source,
        utm_medium
    from crm_utm
),

pairs as (
    select distinct
        lower(trim(coalesce(utm_source, ''))) as utm_source_key,
        lower(trim(coalesce(utm_medium, ''))) as utm_medium_key
    from raw_pairs
),

matches as (
    select
        pairs.utm_source_key,
        pairs.utm_medium_key,
        channel_rules.channel,
        channel_rules.priority,
        row_number() over (
            partition by pairs.utm_source_key, pairs.utm_medium_key
            order by channel_rules.priority
        ) as match_rank
    from pairs
    inner join channel_rules
        on
            (
                channel_rules.source_pattern is null
                or {{ regex_matches('pairs.utm_source_key', 'channel_rules.source_pattern') }}
            )
            and (
                channel_rules.medium_pattern is null
                or {{ regex_matches('pairs.utm_medium_key', 'channel_rules.medium_pattern') }}
            )
),

classified as (
    select
        pairs.utm_source_key,
        pairs.utm_medium_key,
        coalesce(matches.channel, 'unassigned') as channel,
        matches.priority as rule_priority
    from pairs
    left join matches
        on
            pairs.utm_source_key = matches.utm_source_key
            and pairs.utm_medium_key = matches.utm_medium_key
            and matches.match_rank = 1
)

select * from classified
