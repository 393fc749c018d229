"""Microsoft 365 through Microsoft Graph: `mail: {type: graph}` and `calendar: {type: graph}`.

The program mailbox is an Exchange Online mailbox; the app signs in as itself (client
credentials: a client secret or a certificate of an Entra app registration) and acts on
that one mailbox, `/users/<mailbox>`. See connectors.graph_mail for reading, moving and
sending mail, connectors.graph_calendar for the meeting series and free/busy time, and
connectors.graph_http for sign-in, retries and error messages.

Importing this module imports neither msal nor requests (`mentormail validate` reads the
Options without them); they are imported on the first request.
"""

from __future__ import annotations

from connectors.graph_calendar import GraphCalendar
from connectors.graph_http import GraphOptions
from connectors.graph_mail import GraphMailbox

__all__ = ["GraphCalendar", "GraphMailbox", "GraphOptions"]
