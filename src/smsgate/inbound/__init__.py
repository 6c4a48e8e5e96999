"""Inbound (MO) messages: storage, ownership, STOP/START keywords and the opt-out list."""
