"""Google Workspace back ends: `type: google` for `mail:` (Gmail) and `calendar:` (Google Calendar).

- `GoogleMailbox` (connectors.google_mail): the program mailbox through the Gmail API.
- `GoogleCalendar` (connectors.google_calendar): the organizer's calendar through the
  Calendar API; Google sends the invitations (`invites_attendees`).
- Signing in, scopes, retries and error messages: connectors.google_auth.

Importing this module does not import googleapiclient, google.auth or httplib2; they are
loaded when a connector is opened, so reading the Options needs none of them.
"""

from __future__ import annotations

from connectors.google_auth import CALENDAR_SCOPES, GMAIL_SCOPES, GoogleApiError, GoogleOptions
from connectors.google_calendar import GoogleCalendar, event_id
from connectors.google_mail import GoogleMailbox

__all__ = [
    "CALENDAR_SCOPES",
    "GMAIL_SCOPES",
    "GoogleApiError",
    "GoogleCalendar",
    "GoogleMailbox",
    "GoogleOptions",
    "event_id",
]
