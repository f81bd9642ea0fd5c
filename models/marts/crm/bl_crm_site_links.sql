{#-
    CRM contacts that identity resolution matched to a site user but whose
    site-member field in Bitrix (var bitrix_omni_contact_site_user_field) is
    empty ('missing') or names a user of another customer ('conflict'): what a
    CRM sync agent writes back. A contact already linked to any site user of its
    own customer is correct and not listed.
-#}
with

current_map as not materialized (
    select * from {{ ref('int_identity__current_map') }}
),

contact_fields as (
    select * from {{ ref('stg_bitrix__crm_contact_fields') }}
),

usable_identifiers as not materialized (
    select * from {{ ref('int_identity__usable_identifiers') }}
),

contacts as (
    select
        source_id as contact_id,
        record_key as contact_record_key,
        customer_uuid,
        resolved_at
    from current_map
    where source_table = 'b_crm_contact'
),

ranked_users as (
    select
        source_id as user_id,
        record_key as user_record_key,
        customer_uuid,
        row_number() over (
            partition by customer_uuid
            order by first_seen_at, source_id
        ) as user_rank,
        count(*) over (partition by customer_uuid) as candidate_users
    from current_map
    where source_table = 'b_user'
),

contact_links as (
    select
        contacts.contact_id,
        contacts.contact_record_key,
        contacts.customer_uuid,
        contacts.resolved_at,
        ranked_users.user_id as suggested_user_id,
        ranked_users.user_record_key,
        ranked_users.candidate_users,
        contact_fields.site_user_id as current_site_user_id
    from contacts
    inner join ranked_users
        on
            contacts.customer_uuid = ranked_users.customer_uuid
            and ranked_users.user_rank = 1
    left join contact_fields
        on contacts.contact_id = contact_fields.contact_id
),

-- linked to any site user of its own customer = correctly linked
correctly_linked as (
    select distinct contact_links.contact_id
    from contact_links
    inner join current_map
        on
            current_map.source_table = 'b_user'
            and contact_links.current_site_user_id = current_map.source_id
            and contact_links.customer_uuid = current_map.customer_uuid
),

unlinked_contacts as (
    select
        contact_links.*,
        case
            when contact_links.current_site_user_id is null then 'missing'
            else 'conflict'
        end as link_status
    from contact_links
    left join correctly_linked
        on contact_links.contact_id = correctly_linked.contact_id
    where correctly_linked.contact_id is null
),

shared_identifiers as (
    select distinct
        unlinked_contacts.contact_id,
        contact_identifiers.identifier_kind,
        contact_identifiers.identifier_masked
    from unlinked_contacts
    inner join usable_identifiers as contact_identifiers
        on unlinked_contacts.contact_record_key = contact_identifiers.record_key
    inner join usable_identifiers as user_identifiers
        on
            unlinked_contacts.user_record_key = user_identifiers.record_key
            and contact_identifiers.identifier_kind = user_identifiers.identifier_kind
            and contact_identifiers.identifier_hash = user_identifiers.identifier_hash
),

summarized_evidence as (
    select
        contact_id,
        {{ dbt.listagg(
            "identifier_kind || ' ' || identifier_masked",
            "'; '",
            "order by identifier_kind, identifier_masked"
        ) }} as shared_identifiers,
        max(case when identifier_kind = 'email' then 1 else 0 end) as shares_email,
        max(case when identifier_kind = 'phone' then 1 else 0 end) as shares_phone
    from shared_identifiers
    group by 1
),

final as (
    select
        ---------- ids
        cast(unlinked_contacts.contact_id as {{ dbt.type_bigint() }}) as contact_id,
        cast(unlinked_contacts.suggested_user_id as {{ dbt.type_bigint() }})
            as suggested_user_id,
        cast(unlinked_contacts.customer_uuid as {{ dbt.type_string() }}) as customer_uuid,
        cast(unlinked_contacts.current_site_user_id as {{ dbt.type_bigint() }})
            as current_site_user_id,
        ---------- strings
        cast(unlinked_contacts.link_status as {{ dbt.type_string() }}) as link_status,
        cast(
            case
                when summarized_evidence.shares_email = 1 and summarized_evidence.shares_phone = 1
                    then 'email+phone'
                when summarized_evidence.shares_email = 1 then 'email'
                when summarized_evidence.shares_phone = 1 then 'phone'
                else 'link'
            end as {{ dbt.type_string() }}
        ) as evidence_kinds,
        cast(
            coalesce(summarized_evidence.shared_identifiers, 'via orders/links')
            as {{ dbt.type_string() }}
        ) as evidence,
        ---------- numerics
        cast(unlinked_contacts.candidate_users as {{ dbt.type_bigint() }}) as candidate_users,
        ---------- timestamps
        cast(unlinked_contacts.resolved_at as {{ dbt.type_timestamp() }}) as matched_at
    from unlinked_contacts
    left join summarized_evidence
        on unlinked_contacts.contact_id = summarized_evidence.contact_id
)

select * from final
