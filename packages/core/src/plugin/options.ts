// The command-line options a plugin declares in its manifest:
//
//   "options": [
//     { "name": "sync-mode", "commands": ["launch", "restart"], "type": "enum",
//       "values": ["fast", "safe"], "default": "fast",
//       "help": "how the plugin flushes its state", "env": "DMTCP_X_SYNC_MODE" }
//   ]
//
// The CLI offers them on the commands named, shows them in --help and hands
// the value to the plugin's native half in the environment variable `env`
// (the only channel the preloaded library and the restart program share with
// the CLI). Types:
//   flag       no value; env is "1" when given
//   string     env is the value; "repeatable" joins every occurrence with ":"
//   enum       one of "values"
//   path-pair  OLD=NEW, both resolved against the working directory;
//              repeatable, joined with ":" (so paths cannot hold ':' or '=')
// "default" is what the plugin does without the option: shown in help, never
// put into the environment (a variable the user set keeps reaching the plugin).

export const OPTION_COMMANDS = ['launch', 'restart'] as const;
export type OptionCommand = (typeof OPTION_COMMANDS)[number];
export const OPTION_TYPES = ['flag', 'string', 'enum', 'path-pair'] as const;
export type OptionType = (typeof OPTION_TYPES)[number];

export interface PluginOption {
  name: string;
  commands: OptionCommand[];
  type: OptionType;
  help: string;
  env: string;
  /** enum: the accepted values. */
  values?: string[];
  /** string, path-pair: every occurrence counts (joined with ":"). */
  repeatable: boolean;
  default?: string;
  /** The value's placeholder in help. */
  arg?: string;
}

export const OPTION_NAME_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const ENV_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;
/** Variables the core itself sets or clears for launched and restarted processes. */
const CORE_ENV = /^(LD_PRELOAD|PATH|DMTCP_(COORD_.*|CKPT_DIR|PRELOAD|UPID|STRICT|INTERVAL))$/;
const OPTION_KEYS = new Set(['name', 'commands', 'type', 'help', 'env', 'values', 'repeatable', 'default', 'arg']);

/** Validates "dmtcp.options"; a problem comes back as the text after
 *  `"dmtcp.options"` in a one-line error. */
export function parseOptionDecls(raw: unknown): PluginOption[] | { problem: string } {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return { problem: ' must be a list of option declarations' };
  const out: PluginOption[] = [];
  const seen = new Set<string>();
  for (const [i, d] of raw.entries()) {
    const at = (msg: string) => ({ problem: `[${i}]${typeof d === 'object' && d !== null && typeof (d as { name?: unknown }).name === 'string' ? ` (--${(d as { name: string }).name})` : ''}: ${msg}` });
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return at('must be an object');
    const o = d as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!OPTION_KEYS.has(k)) return at(`unknown key "${k}" (expected ${[...OPTION_KEYS].join(', ')})`);
    const name = o['name'];
    if (typeof name !== 'string' || !OPTION_NAME_RE.test(name)) return at('"name" must be a long option name without "--" (lowercase words joined by "-")');
    if (seen.has(name)) return at('declared twice');
    seen.add(name);
    const commands = o['commands'];
    if (!Array.isArray(commands) || commands.length === 0 || !commands.every((c): c is OptionCommand => (OPTION_COMMANDS as readonly unknown[]).includes(c))) {
      return at(`"commands" must list some of ${OPTION_COMMANDS.join(', ')}`);
    }
    const type = o['type'];
    if (!(OPTION_TYPES as readonly unknown[]).includes(type)) return at(`"type" must be one of ${OPTION_TYPES.join(', ')}`);
    const t = type as OptionType;
    const help = o['help'];
    if (typeof help !== 'string' || help.trim() === '' || help.includes('\n')) return at('"help" must be one line of text');
    const env = o['env'];
    if (typeof env !== 'string' || !ENV_NAME_RE.test(env)) return at('"env" must name an environment variable (A-Z, 0-9, _)');
    if (CORE_ENV.test(env)) return at(`"env" ${env} belongs to the core`);
    const repeatable = o['repeatable'] ?? (t === 'path-pair');
    if (typeof repeatable !== 'boolean') return at('"repeatable" must be true or false');
    if (repeatable && t !== 'string' && t !== 'path-pair') return at(`a ${t} option cannot be repeatable`);
    if (t === 'path-pair' && !repeatable) return at('a path-pair option is always repeatable');
    let values: string[] | undefined;
    if (t === 'enum') {
      const v = o['values'];
      if (!Array.isArray(v) || v.length < 2 || !v.every((x): x is string => typeof x === 'string' && /^[A-Za-z0-9_.-]+$/.test(x))) {
        return at('"values" must list at least two words');
      }
      if (new Set(v).size !== v.length) return at('"values" lists a value twice');
      values = [...v];
    } else if (o['values'] !== undefined) {
      return at('only an enum option has "values"');
    }
    const def = o['default'];
    if (def !== undefined) {
      if (typeof def !== 'string') return at('"default" must be a string');
      if (t === 'flag') return at('a flag has no default (it is off unless given)');
      if (values && !values.includes(def)) return at(`"default" ${def} is not one of "values"`);
    }
    const arg = o['arg'];
    if (arg !== undefined && (typeof arg !== 'string' || !/^\S+$/.test(arg))) return at('"arg" must be one word');
    if (arg !== undefined && t === 'flag') return at('a flag takes no value, so no "arg"');
    const opt: PluginOption = { name, commands: [...new Set(commands)], type: t, help, env, repeatable };
    if (values) opt.values = values;
    if (def !== undefined) opt.default = def;
    if (arg !== undefined) opt.arg = arg;
    out.push(opt);
  }
  const envs = new Map<string, string>();
  for (const o of out) {
    const other = envs.get(o.env);
    if (other) return { problem: `: --${other} and --${o.name} both use ${o.env}` };
    envs.set(o.env, o.name);
  }
  return out;
}
