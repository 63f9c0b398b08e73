/**
 * The policy registry: `policy.kind` of a scenario names a factory here. Built in: 'esx' (the
 * default: ESXi's memory states, targets with the idle memory tax, sampling, large pages;
 * src/policy/esx/), 'kvm' (a Linux/KVM host: watermarks, kswapd, KSM, zswap; src/policy/kvm/) and
 * 'basic' (a minimal one). An embedding program may add its own (registerPolicy).
 */
import { ConfigError } from '../errors.js';
import type { Scenario } from '../sim/scenario.js';
import type { Policy, PolicyFactory } from './policy.js';
import { BasicPolicy } from './basic.js';
import { EsxPolicy } from './esx/policy.js';
import { KvmPolicy } from './kvm/policy.js';

const registry = new Map<string, PolicyFactory>([
  ['esx', (c) => new EsxPolicy(c)],
  ['kvm', (c) => new KvmPolicy(c)],
  ['basic', (c) => new BasicPolicy(c)],
]);

/** Makes `kind` available to scenarios (a later registration of the same kind replaces it). */
export function registerPolicy(kind: string, factory: PolicyFactory): void {
  registry.set(kind, factory);
}

/** The policy kinds available now. */
export function policyKinds(): string[] {
  return [...registry.keys()];
}

/** The policy a scenario asks for; a typed error naming policy.kind when it is not built in. */
export function createPolicy(config: Scenario['policy']): Policy {
  const f = registry.get(config.kind);
  if (!f) throw new ConfigError('policy.kind', config.kind, `one of ${[...registry.keys()].map((k) => `'${k}'`).join(', ')}`);
  return f(config);
}

export type { Policy, PolicyContext, PolicyVm, PolicyFactory } from './policy.js';
export { BasicPolicy } from './basic.js';
export { EsxPolicy } from './esx/policy.js';
export { KvmPolicy } from './kvm/policy.js';
