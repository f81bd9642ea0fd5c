"""Omnichannel customer analytics for 1C-Bitrix shops (Python side of the dbt project)."""

__version__ = "0.1.0"
