// The control channels' text messages: a type line, `Name:value` argument
// lines, optionally a blank line and a body (ignored). Parsing follows the Go
// coordinator and peers exactly and never throws; serialising is strict
// (`Name:value`, no space, `\n` after every line) because rtmp-server-rs keeps
// everything after the colon untrimmed. Values never carry line breaks, so no
// value can inject an argument.

export interface ControlMessage {
  /** Upper-cased type, e.g. 'PUBLISH-REQUEST'. */
  type: string;
  /** Lower-cased argument names → values (trimmed). */
  args: Map<string, string>;
}

/** What the Go peers trim around the type, names and values: space, tab, CR, LF. */
function isEdge(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** text[start, end) without edge characters at either end (no copy when the whole text is already trimmed). */
function trimmed(text: string, start: number, end: number): string {
  while (start < end && isEdge(text.charCodeAt(start))) start += 1;
  while (end > start && isEdge(text.charCodeAt(end - 1))) end -= 1;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * The argument names of the protocol as the peers spell them, lower-cased
 * once: a message's names are looked up here instead of lower-cased each
 * time (a name spelled otherwise is lower-cased as it comes; nothing is
 * added at run time, so no peer can grow this table).
 */
const KNOWN_NAMES = new Map<string, string>(
  ['Request-ID', 'Stream-Channel', 'Stream-ID', 'Stream-Key', 'User-IP', 'Stream-Type', 'Resolution', 'Index-file', 'Index-File', 'Start-Time',
    'Error-Message', 'Error-Code', 'Capacity']
    .flatMap((name) => [[name, name.toLowerCase()], [name.toLowerCase(), name.toLowerCase()]] as Array<[string, string]>),
);

function lowerName(name: string): string {
  return KNOWN_NAMES.get(name) ?? name.toLowerCase();
}

/** Parse one message (lines are walked in place: no array of lines, and no copy of what needs no trimming). */
export function parseMessage(text: string): ControlMessage {
  let lineEnd = text.indexOf('\n');
  if (lineEnd < 0) lineEnd = text.length;
  const type = trimmed(text, 0, lineEnd).toUpperCase();
  const args = new Map<string, string>();
  for (let start = lineEnd + 1; start < text.length; start = lineEnd + 1) {
    lineEnd = text.indexOf('\n', start);
    if (lineEnd < 0) lineEnd = text.length;
    if (lineEnd === start) break; // the body starts after the first empty line
    const colon = text.indexOf(':', start);
    if (colon <= start || colon >= lineEnd) continue;
    args.set(lowerName(trimmed(text, start, colon)), trimmed(text, colon + 1, lineEnd));
  }
  return { type, args };
}

/** An argument's value; missing reads as ''. Names are case-insensitive. */
export function arg(message: ControlMessage, name: string): string {
  return message.args.get(lowerName(name)) ?? '';
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROLS = /[\u0000-\u001f\u007f]/g;

/** Line breaks and other control characters would break the line format (or inject arguments). */
function clean(value: string): string {
  // Tested first: almost no value has one, and a test allocates nothing.
  return CONTROL.test(value) ? value.replace(CONTROLS, '') : value;
}

export function serializeMessage(type: string, args: Record<string, string> = {}): string {
  let text = `${clean(type)}\n`;
  for (const name in args) text += `${clean(name)}:${clean(args[name]!)}\n`;
  return text;
}
