"""Mailbox and calendar back ends behind the protocols in `connectors.base`."""
