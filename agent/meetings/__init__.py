"""Meetings: finding a weekly slot, iCalendar/iTIP, and dates and times in words. Pure.

Owns the slot finder (`slots`), invitations and the answers to them (`ics`) with the
VTIMEZONEs they carry (`vtimezone`), free-text dates ("Friday 3pm", `when`), the small
languages of durations and working hours (`timefmt`) and advice on zone names
(`zone_names`). Everything here is about time and
calendars, not about pairs or the program.

May import: nothing else in `agent` (the standard library, icalendar, zoneinfo).
"""
