{#- Per first acquisition channel: how many customers it brought and how they bought. -#}
{{ channel_conversion_report(['first_channel']) }}
