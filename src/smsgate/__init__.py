"""smsgate: a self-hosted SMS gateway and reseller platform."""
