{#- Per first channel, source and medium: customers, buyers, conversion, money. -#}
{{ channel_conversion_report(['first_channel', 'first_source', 'first_medium']) }}
