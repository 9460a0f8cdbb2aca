// The coordinator halves of plugins: which are installed, the barrier
// policies, calls and frame types they own, the modules being loaded for the
// libraries processes report, and the descriptor kinds each library restores.
import { DMT_BARRIER, DMT_HELLO, DMT_PLUGIN_CALL, DMT_PLUGIN_RESULT, DMT_UPDATE, DMT_USER_CMD } from '../generated/constants.ts';
import { DMTCP_CALL_FAILED, DMTCP_CALL_OK } from '../generated/constants.ts';
import { findPluginPackage } from '../plugin/discover.ts';
import type { CallHandler, CoordinatorPlugin, PluginCall, PluginRequest, PluginResponse, ResetScope } from '../plugin/index.ts';
import { loadCoordinatorModule } from '../plugin/modules.ts';
import type { BarrierPolicy, HelloInfo } from './types.ts';

export type ModuleLoader = (lib: string) => Promise<CoordinatorPlugin | null>;

/** Frame types the coordinator handles itself; plugins cannot take them. */
const CORE_FRAME_TYPES = new Set([DMT_HELLO, DMT_BARRIER, DMT_UPDATE, DMT_USER_CMD, DMT_PLUGIN_CALL, DMT_PLUGIN_RESULT]);

/** The core's own barriers: no plugin module can hold their policy. */
function isCoreBarrier(name: string): boolean {
  return name.startsWith('ckpt:') || name.startsWith('restart:');
}

export async function defaultModuleLoader(lib: string): Promise<CoordinatorPlugin | null> {
  return (await loadCoordinatorModule(lib))?.plugin ?? null;
}

export function defaultFdKinds(lib: string): readonly string[] {
  try {
    return findPluginPackage(lib)?.manifest.fds ?? [];
  } catch {
    return [];
  }
}

export interface PluginHostOptions {
  log: (line: string) => void;
  /** null turns module loading off. */
  moduleLoader: ModuleLoader | null;
  fdKinds: (lib: string) => readonly string[];
  /** Told when no module load is pending any more. */
  onLoadsSettled: () => void;
  /** True once the coordinator stops: late modules are not installed. */
  isStopping: () => boolean;
}

type RequestHandler = NonNullable<CoordinatorPlugin['requests']>[number];

/** The answer to a call: the PLUGIN_RESULT's extra and payload. */
export interface CallAnswer {
  extra: number;
  payload?: Buffer;
}

export type RequestOutcome =
  | { handled: false }
  | { handled: true; error: string }
  | { handled: true; response: PluginResponse | void };

export class PluginHost {
  private readonly log: (line: string) => void;
  private readonly policies = new Map<string, BarrierPolicy>();
  private readonly plugins = new Map<string, CoordinatorPlugin>();
  private readonly callHandlers = new Map<string, { plugin: string; handle: CallHandler }>();
  private readonly requestHandlers = new Map<number, { plugin: string; handle: RequestHandler }>();
  private readonly moduleLoader: ModuleLoader | null;
  /** Libraries whose module was looked for (each only once). */
  private readonly seenLibs = new Set<string>();
  private readonly moduleLoads = new Set<Promise<void>>();
  private readonly fdKinds: (lib: string) => readonly string[];
  private readonly fdKindsCache = new Map<string, readonly string[]>();
  private readonly onLoadsSettled: () => void;
  private readonly isStopping: () => boolean;

  constructor(opts: PluginHostOptions) {
    this.log = opts.log;
    this.moduleLoader = opts.moduleLoader;
    this.fdKinds = opts.fdKinds;
    this.onLoadsSettled = opts.onLoadsSettled;
    this.isStopping = opts.isStopping;
  }

  registerPolicy(name: string, fn: BarrierPolicy): () => void {
    this.policies.set(name, fn);
    return () => {
      if (this.policies.get(name) === fn) this.policies.delete(name);
    };
  }

  policy(name: string): BarrierPolicy | undefined {
    return this.policies.get(name);
  }

  /** A barrier with no policy yet whose policy may come with a module being
   *  loaded: its release waits for the loads. */
  mustHold(name: string): boolean {
    return !this.policies.has(name) && this.moduleLoads.size > 0 && !isCoreBarrier(name);
  }

  get loading(): boolean {
    return this.moduleLoads.size > 0;
  }

  /** Settles once the loads pending now have. */
  whenLoaded(): Promise<unknown> {
    return Promise.allSettled([...this.moduleLoads]);
  }

  use(plugin: CoordinatorPlugin): () => void {
    if (this.plugins.has(plugin.name)) throw new Error(`plugin ${plugin.name} is already installed`);
    const policies = Object.entries(plugin.policies ?? {});
    for (const [name] of policies) {
      if (this.policies.has(name)) throw new Error(`barrier "${name}" already has a policy`);
    }
    const requests = Object.entries(plugin.requests ?? {}).map(([t, handle]) => [Number(t), handle] as const);
    for (const [type] of requests) {
      if (CORE_FRAME_TYPES.has(type)) throw new Error(`frame type ${type} belongs to the coordinator`);
      const owner = this.requestHandlers.get(type);
      if (owner) throw new Error(`frame type ${type} is already handled by plugin ${owner.plugin}`);
    }
    const calls = Object.entries(plugin.calls ?? {});
    for (const [name] of calls) {
      const owner = this.callHandlers.get(name);
      if (owner) throw new Error(`call "${name}" is already answered by plugin ${owner.plugin}`);
    }
    this.plugins.set(plugin.name, plugin);
    const removers = policies.map(([name, fn]) => this.registerPolicy(name, fn));
    for (const [name, handle] of calls) this.callHandlers.set(name, { plugin: plugin.name, handle });
    for (const [type, handle] of requests) this.requestHandlers.set(type, { plugin: plugin.name, handle });
    return () => {
      if (this.plugins.get(plugin.name) !== plugin) return;
      this.plugins.delete(plugin.name);
      for (const r of removers) r();
      for (const [type] of requests) {
        if (this.requestHandlers.get(type)?.plugin === plugin.name) this.requestHandlers.delete(type);
      }
      for (const [name] of calls) {
        if (this.callHandlers.get(name)?.plugin === plugin.name) this.callHandlers.delete(name);
      }
    };
  }

  reset(scope: ResetScope): void {
    for (const p of this.plugins.values()) {
      try {
        p.reset?.(scope);
      } catch (e) {
        this.log(`plugin ${p.name}: reset failed: ${(e as Error).message}`);
      }
    }
  }

  processLeft(key: string, info: HelloInfo): void {
    for (const p of this.plugins.values()) {
      try {
        p.processLeft?.(key, info);
      } catch (e) {
        this.log(`plugin ${p.name}: processLeft failed: ${(e as Error).message}`);
      }
    }
  }

  /** Looks for the coordinator modules of the libraries a process reported,
   *  each library once. */
  load(libs: readonly string[]): void {
    const loader = this.moduleLoader;
    if (!loader) return;
    for (const lib of libs) {
      if (this.seenLibs.has(lib)) continue;
      this.seenLibs.add(lib);
      const load: Promise<void> = (async () => {
        let plugin: CoordinatorPlugin | null;
        try {
          plugin = await loader(lib);
        } catch (e) {
          this.log(`plugin library ${lib}: coordinator module not loaded: ${(e as Error).message}; its barriers release with empty replies`);
          return;
        }
        if (!plugin || this.isStopping()) return;
        if (this.plugins.get(plugin.name) === plugin) return; // two libraries of one package
        try {
          this.use(plugin);
        } catch (e) {
          this.log(`plugin ${plugin.name}: coordinator module not installed: ${(e as Error).message}`);
          return;
        }
        const n = Object.keys(plugin.policies ?? {}).length;
        this.log(`plugin ${plugin.name}: coordinator module loaded (${n} ${n === 1 ? 'policy' : 'policies'})`);
      })().finally(() => {
        this.moduleLoads.delete(load);
        if (this.moduleLoads.size === 0) this.onLoadsSettled();
      });
      this.moduleLoads.add(load);
    }
  }

  /** Answers a dmtcp_coordinator_call(); undefined when no plugin answers
   *  the name (yet: see loading). */
  call(name: string, call: PluginCall): CallAnswer | undefined {
    const h = this.callHandlers.get(name);
    if (!h) return undefined;
    try {
      return { extra: DMTCP_CALL_OK, payload: h.handle(call) ?? undefined };
    } catch (e) {
      const msg = (e as Error).message;
      this.log(`plugin ${h.plugin}: call ${name} failed: ${msg}`);
      return { extra: DMTCP_CALL_FAILED, payload: Buffer.from(msg) };
    }
  }

  request(type: number, req: PluginRequest): RequestOutcome {
    const h = this.requestHandlers.get(type);
    if (!h) return { handled: false };
    try {
      return { handled: true, response: h.handle(req) };
    } catch (e) {
      return { handled: true, error: (e as Error).message };
    }
  }

  /** The descriptor kinds the loaded plugin libraries of a process restore. */
  handledFdKinds(libs: readonly string[]): Set<string> {
    return new Set(libs.flatMap((lib) => this.fdKindsOf(lib)));
  }

  private fdKindsOf(lib: string): readonly string[] {
    let kinds = this.fdKindsCache.get(lib);
    if (!kinds) {
      kinds = this.fdKinds(lib);
      this.fdKindsCache.set(lib, kinds);
    }
    return kinds;
  }
}
