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

const EDGE = /^[ \t\r\n]+|[ \t\r\n]+$/g;

export function parseMessage(text: string): ControlMessage {
  const lines = text.split('\n');
  const type = (lines[0] ?? '').replace(EDGE, '').toUpperCase();
  const args = new Map<string, string>();
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (line === '') break; // the body starts after the first empty line
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).replace(EDGE, '').toLowerCase();
    args.set(name, line.slice(colon + 1).replace(EDGE, ''));
  }
  return { type, args };
}

/** An argument's value; missing reads as ''. Names are case-insensitive. */
export function arg(message: ControlMessage, name: string): string {
  return message.args.get(name.toLowerCase()) ?? '';
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
