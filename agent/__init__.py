"""mentormail: runs virtual mentoring programs over plain email and calendars."""
