"""Request limits shared by every process on one database (failed authentications, sign-ins)."""
