// crisp-oss/email-reply-parser (npm `email-reply-parser`) on a list of email bodies.
// Reads {"texts": [...], "min_seconds": s, "rounds": n, "max_chars": c} on stdin; writes
// {"outputs": [visible text per body, null for one over max_chars], "msgs_per_s": best of
// `rounds` rounds, each running the list again and again for at least `min_seconds`}.
// Bodies over max_chars are left out: its regexes run for minutes on a 700 kB quote.
// Install: npm install --prefix bench email-reply-parser
"use strict";
const EmailReplyParser = require("email-reply-parser").default;

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const parser = new EmailReplyParser();
const visible = (text) => parser.read(text).getVisibleText();

const texts = input.texts.filter((text) => text.length <= input.max_chars);
const outputs = input.texts.map((text) => (text.length <= input.max_chars ? visible(text) : null));
let best = 0;
for (let round = 0; round < input.rounds; round++) {
  let passes = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < input.min_seconds) {
    for (const text of texts) visible(text);
    passes++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  best = Math.max(best, (passes * texts.length) / elapsed);
}
process.stdout.write(JSON.stringify({ outputs, msgs_per_s: best }));
