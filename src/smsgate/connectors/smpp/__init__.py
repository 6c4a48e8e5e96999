"""SMPP 3.4 client connector with its own codec (docs/decisions/0005-smpp-codec.md).

pdu.py       PDUs, TLVs and the frame reader
gsm.py       GSM 03.38 default alphabet, one septet per octet
submit.py    an OutboundMessage as submit_sm PDUs (encoding, concatenation, addresses)
receipts.py  receipts inside deliver_sm
ids.py       one normal form for upstream ids (normalize_message_id)
pace.py      throughput limit and slowing down when throttled
session.py   one bind: connect, bind, window, keepalive, reconnect
client.py    SmppConnector, the Connector
"""

from smsgate.connectors.smpp.client import SmppConnector
from smsgate.connectors.smpp.ids import normalize_message_id

__all__ = ["SmppConnector", "normalize_message_id"]
