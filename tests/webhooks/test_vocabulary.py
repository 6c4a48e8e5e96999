"""The webhook payload's surface vocabularies agree with the surfaces' own tables."""

from __future__ import annotations

from smsgate.messaging.status import MessageStatus
from smsgate.surfaces import devsms
from smsgate.surfaces.smsby._transport import SMS_STATUS
from smsgate.webhooks.events import SURFACE_STATUSES, surface_status


def test_surface_tables_match_the_surfaces() -> None:
    assert SURFACE_STATUSES["devsms"] == {str(k): v for k, v in devsms.STATUSES.items()}
    assert SURFACE_STATUSES["smsby"] == {str(k): v for k, v in SMS_STATUS.items()}
    for status in MessageStatus:
        assert surface_status("native", status) == status.value
        assert surface_status("smsgic", status) == status.value
