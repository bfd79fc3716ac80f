// Which side of the originals `coordinator start` runs when the config lists
// no plugins: chosen by --mode / COORDINATOR_MODE, else inferred from which
// original's settings are present, so that each original's users start it
// the way they started the original (env only; or a JSON config and flags).

import type { CoordinatorConfig } from '../core/config/types.js';
import { PLUGIN_SETS, type CoordinatorMode } from '../plugins/builtin-loaders.js';

/** The streaming original was configured by these variables alone. */
export const STREAMING_VARIABLES = ['CONTROL_SECRET', 'KEY_VERIFICATION_URL', 'EVENT_CALLBACK_URL', 'COMMANDS_API_AUTH', 'HTTP_PORT', 'BIND_ADDRESS', 'ID_MAX_LENGTH', 'SSL_CERT'];
/** The acomm original's JSON keys and flags. */
const ACOMM_KEYS = ['service_name', 'socket_dir', 'external_port', 'request_timeout', 'log_level', 'config_file'];

export interface ModeChoice {
  mode: CoordinatorMode;
  /** Why, for the log. */
  reason: string;
}

export function isMode(value: string): value is CoordinatorMode {
  return Object.prototype.hasOwnProperty.call(PLUGIN_SETS, value);
}

export function chooseMode(config: CoordinatorConfig, acommFlags: string[], env: Record<string, string | undefined>, explicit: string | undefined): ModeChoice {
  const chosen = explicit ?? (env.COORDINATOR_MODE || undefined);
  if (chosen !== undefined) {
    if (!isMode(chosen)) throw new Error(`--mode / COORDINATOR_MODE must be one of ${Object.keys(PLUGIN_SETS).join(', ')}, got ${JSON.stringify(chosen)}`);
    return { mode: chosen, reason: explicit !== undefined ? '--mode' : 'COORDINATOR_MODE' };
  }
  const acomm = [...ACOMM_KEYS.filter((k) => (config as Record<string, unknown>)[k] !== undefined), ...acommFlags.map((f) => `--${f}`)];
  const streaming = STREAMING_VARIABLES.filter((v) => env[v]);
  if (acomm.length > 0 && streaming.length === 0) return { mode: 'acomm', reason: `the acomm coordinator's settings are present (${acomm.join(', ')})` };
  if (streaming.length > 0 && acomm.length === 0) return { mode: 'streaming', reason: `the streaming coordinator's variables are present (${streaming.join(', ')})` };
  return { mode: 'all', reason: acomm.length > 0 ? 'settings of both originals are present' : 'no original\'s settings: both sides' };
}
