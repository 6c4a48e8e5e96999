"""Reusable message texts and one-time-code recipes (sms.by "messages" and "password objects")."""
