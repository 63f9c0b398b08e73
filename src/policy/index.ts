/**
 * The policy registry: `policy.kind` of a scenario names a factory here. This build has 'basic';
 * the ESX and KVM policies register 'esx' and 'kvm' (registerPolicy) behind the same interface.
 */
import { ConfigError } from '../errors.js';
import type { Scenario } from '../sim/scenario.js';
import type { Policy, PolicyFactory } from './policy.js';
import { BasicPolicy } from './basic.js';

const registry = new Map<string, PolicyFactory>([['basic', (c) => new BasicPolicy(c)]]);

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
  if (!f) throw new ConfigError('policy.kind', config.kind, `one of ${[...registry.keys()].map((k) => `'${k}'`).join(', ')} (the esx and kvm policies are not in this build yet)`);
  return f(config);
}

export type { Policy, PolicyContext, PolicyVm, PolicyFactory } from './policy.js';
export { BasicPolicy } from './basic.js';
