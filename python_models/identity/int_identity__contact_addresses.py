"""Normalized e-mails of marketing contacts (sender module, ESP webhooks); thin model.

E-mail campaign events carry an address, not a record id. Normalizing those addresses the
same way as identity identifiers lets the journey find the customer behind each event.
"""

from bitrix_omni.frames import to_pandas
from bitrix_omni.pipeline import normalize_addresses


def model(dbt, session):
    dbt.config(materialized="table")
    sender_contacts = to_pandas(dbt.ref("stg_bitrix__sender_contacts"))
    email_events = to_pandas(dbt.ref("stg_bitrix__email_events"))
    return normalize_addresses(
        [
            sender_contacts.loc[sender_contacts["contact_type_id"] == 1, "address_raw"],
            email_events["email_raw"],
        ]
    )
