"""Runs the contract suite (contract.py) against every CRM in conftest.CRMS."""

from tests.connectors.crm.contract import *  # noqa: F403
