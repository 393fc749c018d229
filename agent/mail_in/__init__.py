"""Mail in: raw bytes -> a parsed message -> its new text -> what the person means. Pure.

`inbound` (`parse_message`) is where every received message is read. It reads the header
lines (`headers`), walks the MIME tree (`mime_body`, decoding with `charsets` and turning
HTML into text with `html_text`), tells auto-replies, bounces and DMARC failures apart
(`classify`) and keeps the new text (`html_quotes` from the clients' HTML quote markup,
else `reply_text`, which builds its patterns from the per-language table in
`quote_languages` and matches them through `line_index`).
`mailbox_parse` reads the one sender strictly; `authresults` reads what the receiving
server vouches for; `kept` decides what of a message is kept and makes its text safe to
show; `replies` turns the new text into intents (the phrases about meetings, moved or
missed, are in `meeting_phrases`; which of our numbered questions an answer answers is
`answers`, whether an answer to the agreement gives consent `consent`, the day a pause
asked for ends `pause_dates`); `tokens` reads
(and makes) the keyed reply tokens, Message-IDs and bounce addresses that tie a message
to a pair. `message` holds the value types the rest reads.

May import: `agent.meetings`. Never config, pairs, state, commands or connectors.
"""
