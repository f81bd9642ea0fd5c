with

source as (
    select * from (
        select
        cast("ID" as TEXT) as id,
        cast("TIMESTAMP_X" as TEXT) as timestamp_x,
        cast("LOGIN" as TEXT) as login,
        cast("ACTIVE" as TEXT) as active,
        cast("NAME" as TEXT) as name,
        cast(null as TEXT) as last_name,
        cast(null as TEXT) as second_name,
        cast("EMAIL" as TEXT) as email,
        cast("PERSONAL_PHONE" as TEXT) as personal_phone,
        cast(null as TEXT) as personal_mobile,
        cast(null as TEXT) as work_phone,
        cast("DATE_REGISTER" as TEXT) as date_register,
        cast(null as TEXT) as last_login,
        cast(null as TEXT) as last_activity_date,
        cast(null as TEXT) as lid,
        cast("EXTERNAL_AUTH_ID" as TEXT) as external_auth_id,
        cast(null as TEXT) as xml_id,
        cast(null as TEXT) as personal_birthday,
        cast(null as TEXT) as personal_gender,
        cast(null as TEXT) as personal_city,
        cast(null as TEXT) as bx_user_id

        from read_csv('/tmp/bx1/b_user.csv', header = true, delim = ',', quote = '"', escape = '"', all_varchar = true, encoding = 'utf-8')
    ) as raw_b_user
),

renamed as (
    select
        ---------- ids
        
    try_cast(trim(id) as bigint) as user_id,
        
    nullif(trim(xml_id), '') as xml_id,
        
    nullif(trim(bx_user_id), '') as browser_id,
        ---------- strings
        
    nullif(trim(login), '') as login,
        
    nullif(trim(name), '') as first_name,
        
    nullif(trim(last_name), '') as last_name,
        
    nullif(trim(second_name), '') as second_name,
        
    nullif(trim(email), '') as email_raw,
        
    nullif(trim(personal_phone), '') as personal_phone_raw,
        
    nullif(trim(personal_mobile), '') as personal_mobile_raw,
        
    nullif(trim(work_phone), '') as work_phone_raw,
        
    nullif(upper(trim(personal_gender)), '') as gender,
        
    nullif(trim(personal_city), '') as city,
        
    nullif(trim(lid), '') as site_id,
        lower(
    nullif(trim(external_auth_id), '')) as external_auth_id,
        ---------- booleans
        
    case upper(trim(active))
        when 'Y' then true
        when 'N' then false
    end as is_active,
        coalesce(
            lower(
    nullif(trim(external_auth_id), ''))
            in ('saleanonymous', 'imconnector', 'bot', 'email', 'replica', '__controller', 'shop'),
            false
        ) as is_technical,
        ---------- dates
        
    cast(
    case
        when regexp_full_match(
            trim(personal_birthday),
            '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?'
        )
            then try_cast(trim(personal_birthday) as timestamp)
    end as date) as birth_date,
        ---------- timestamps
        
    ((
    case
        when regexp_full_match(
            trim(date_register),
            '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?'
        )
            then try_cast(trim(date_register) as timestamp)
    end) at time zone 'Europe/Moscow') at time zone 'UTC' as registered_at,
        
    ((
    case
        when regexp_full_match(
            trim(last_login),
            '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?'
        )
            then try_cast(trim(last_login) as timestamp)
    end) at time zone 'Europe/Moscow') at time zone 'UTC' as last_login_at,
        
    ((
    case
        when regexp_full_match(
            trim(last_activity_date),
            '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?'
        )
            then try_cast(trim(last_activity_date) as timestamp)
    end) at time zone 'Europe/Moscow') at time zone 'UTC' as last_activity_at,
        
    ((
    case
        when regexp_full_match(
            trim(timestamp_x),
            '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?'
        )
            then try_cast(trim(timestamp_x) as timestamp)
    end) at time zone 'Europe/Moscow') at time zone 'UTC' as updated_at
    from source
),

deduplicated as (
    
    select *
    from renamed
    where user_id is not null
    qualify row_number() over (
        partition by user_id
        order by updated_at desc nulls last, md5(cast(renamed as varchar))
    ) = 1
)

select * from deduplicated