// The application's stream settings, read from its key-verification answer
// with the grammar the coordinator, the encoder and the test app share:
//   x-resolutions: "1280x720-30~2500, 640x360-30" -> "1280x720-30~2500,640x360-30"
//   x-previews:    "256x144, 3"                    -> "256x144,3"   (else "False")
//   x-record:      "true" (any case)               -> true

export interface Resolution {
  width: number;
  height: number;
  /** -1 when absent. */
  fps: number;
  /** -1 when absent. */
  kbps: number;
}

export interface ResolutionList {
  original: boolean;
  resolutions: Resolution[];
}

/** Go's strconv.ParseInt(s, 10, 32): optional sign, digits, int32 range; no trimming. */
export function parseInt32(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = Number.parseInt(text, 10);
  return value >= -2147483648 && value <= 2147483647 ? value : undefined;
}

function parseResolution(item: string): Resolution | undefined {
  let rest = item.trim();
  let kbps = -1;
  const byTilde = rest.split('~');
  if (byTilde.length === 2) {
    const parsed = parseInt32(byTilde[1]!);
    if (parsed === undefined) return undefined;
    kbps = parsed;
  }
  rest = byTilde[0]!.trim();
  let fps = -1;
  const byDash = rest.split('-');
  if (byDash.length === 2) {
    const parsed = parseInt32(byDash[1]!);
    if (parsed === undefined) return undefined;
    fps = parsed;
  }
  const size = byDash[0]!.split('x');
  if (size.length !== 2) return undefined;
  const width = parseInt32(size[0]!);
  const height = parseInt32(size[1]!);
  if (width === undefined || height === undefined) return undefined;
  return { width, height, fps, kbps };
}

export function parseResolutionList(text: string): ResolutionList {
  if (text === '') return { original: true, resolutions: [] };
  const list: ResolutionList = { original: false, resolutions: [] };
  for (const item of text.split(',')) {
    if (item.toUpperCase() === 'ORIGINAL') {
      list.original = true;
      continue;
    }
    const resolution = parseResolution(item);
    if (resolution) list.resolutions.push(resolution);
  }
  return list;
}

export function encodeResolutionList(list: ResolutionList): string {
  const parts = list.original ? ['ORIGINAL'] : [];
  for (const r of list.resolutions) {
    parts.push(`${r.width}x${r.height}${r.fps > 0 ? `-${r.fps}` : ''}${r.kbps > 0 ? `~${r.kbps}` : ''}`);
  }
  return parts.join(',');
}

export interface Previews {
  width: number;
  height: number;
  delaySeconds: number;
}

export function parsePreviews(text: string): Previews | undefined {
  const parts = text.split(',');
  if (parts.length !== 2) return undefined;
  const delaySeconds = parseInt32(parts[1]!.trim());
  if (delaySeconds === undefined || delaySeconds < 1) return undefined;
  const size = parts[0]!.trim().split('x');
  if (size.length !== 2) return undefined;
  const width = parseInt32(size[0]!);
  const height = parseInt32(size[1]!);
  if (width === undefined || height === undefined) return undefined;
  return { width, height, delaySeconds };
}

export function encodePreviews(previews: Previews | undefined): string {
  return previews ? `${previews.width}x${previews.height},${previews.delaySeconds}` : 'False';
}

export function parseRecord(text: string): boolean {
  return text.toLowerCase() === 'true';
}

/** What the scheduler passes to the encoder in ENCODE-START. */
export interface StreamSettings {
  /** The `Resolutions` argument. */
  resolutions: string;
  record: boolean;
  /** The `Previews` argument: `{W}x{H},{D}` or `False`. */
  previews: string;
}

export const DEFAULT_STREAM_SETTINGS: StreamSettings = { resolutions: 'ORIGINAL', record: false, previews: 'False' };

/** Settings from the verifier's answer headers (first value of each). */
export function settingsFromHeaders(get: (name: string) => string | undefined): StreamSettings {
  return {
    resolutions: encodeResolutionList(parseResolutionList(get('x-resolutions') ?? '')),
    record: parseRecord(get('x-record') ?? ''),
    previews: encodePreviews(parsePreviews(get('x-previews') ?? '')),
  };
}
