"""Normalized e-mails of marketing contacts (sender module, ESP webhooks); thin model.

E-mail campaign events carry an address, not a record id. Normalizing those addresses the
same way as identity identifiers lets the journey find the customer behind each event.
"""

import pyarrow.compute as pc

from bitrix_omni.frames import to_arrow
from bitrix_omni.pipeline import normalize_addresses


def model(dbt, session):
    dbt.config(materialized="table")
    contacts = to_arrow(dbt.ref("stg_bitrix__sender_contacts"))
    events = to_arrow(dbt.ref("stg_bitrix__email_events"))
    is_email = pc.fill_null(pc.equal(contacts["contact_type_id"], 1), False)
    return normalize_addresses([contacts.filter(is_email)["address_raw"], events["email_raw"]])
