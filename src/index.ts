/**
 * memvisor: the public API. Everything a user imports from 'memvisor' is exported here: the
 * Host and its VMs, the Mmu (simulated cores), trace replay over bytes, codecs and hashes, the
 * typed errors, the Simulation (scenarios, guests, workloads, policies), the report renderers,
 * and the types of their options and results. The engine (src/engine/) is internal.
 *
 * No module reachable from here imports Node, so this entry bundles for a browser (a test
 * bundles it with esbuild and runs it in Chromium; another fails on any `node:` import in it).
 * What needs files (file swap, image files, trace files, scenario files, report files, the live
 * terminal view) is in the Node entry, src/node.ts ('memvisor/node'), which exports all of this too.
 */
export {
  Host, pageTableOverhead, type HostConfig, type HostStats, type Stats, type VmRates, type ShareScanResult, type FrameCounts,
} from './host/host.js';
export type { CloseReport, CleanupProblem } from './host/cleanup.js';
export {
  VM, PState, type VmConfig, type VmStats, type PageOutResult, type VictimPolicy, type VmMmuMode, type GuestOsRange,
  type ZipSurvey,
} from './host/vm.js';
export {
  SwapStore, MemorySwapStore, SWAP_FAULT_KINDS, type SwapFault, type SwapFaultKind, type SwapStoreStats, type SwapStoreOptions,
} from './host/swapstore.js';
export {
  Mmu, FaultKind, TranslationFaultError, DEFAULT_COSTS, DEFAULT_TLB, DEFAULT_PWC, DEFAULT_NTLB,
  type MmuOptions, type VmOptions, type MmuVm, type MmuMode, type PageSize, type AccessKind, type CacheGeometry,
  type CostModel, type Fault, type HostNeed, type Translation, type MmuStats, type TranslationBatch,
  type PagingOptions, type AttachOptions, type CoreOptions, type PagingStats,
} from './translate/mmu.js';
export {
  replayBytes, type ReplayOptions, type ReplayResult, type TraceFormat,
} from './translate/trace.js';
export {
  lz4Compress, lz4Decompress, lz4Bound, lz4Codec, deflateCodec, codecByName, MAX_CODEC_INPUT,
  lz4CompressInto, lz4DecompressInto, lz4CompressPagesInto, lz4DecompressPagesInto,
  type Codec, type DeflateOptions, type DeflateLevel,
} from './codec/lz4.js';
export { Lz4Status, lz4StatusText } from './engine/codec.js';
export { xxh64, xxh3, xxh64Pages, xxh3Pages } from './codec/hash.js';
export {
  MemvisorError, ConfigError, CodecError, EngineAbortError, EnginePoisonedError, OutOfLinearMemoryError,
  SwapChecksumError, SwapIoError, VmFaultedError, VmPoweredOffError, OutOfMachineMemoryError, GaveUpError, TraceParseError,
  AuditError, type AuditWhere,
} from './errors.js';
export { MAX_MACHINE_MIB, useModule, type EngineFlavor } from './engine/engine.js';
export { PAGE as PAGE_SIZE, type Gva, type Gpa, type Gppn, type Hpa, type Mpn } from './engine/addr.js';
export {
  Simulation, VERSION, type RunResult, type Verified, type SimulationOptions,
} from './sim/simulation.js';
export {
  parseScenario, scenarioJsonSchema, ScenarioSchema, ScenarioError, type Scenario, type ScenarioInput, type ScenarioProblem,
  type VmScenario, type PhaseScenario, type CostsScenario,
} from './sim/scenario.js';
export { type Sample, type VmSample, type HostSample } from './sim/sample.js';
export { resolveCosts, type ResolvedCosts, type SwapTier } from './sim/costs.js';
export {
  registerPolicy, createPolicy, policyKinds, BasicPolicy, type Policy, type PolicyContext, type PolicyVm, type PolicyFactory,
} from './policy/index.js';
export { GuestOs, OOM_DEFLATE_PAGES, type GuestCounts } from './guest/guest.js';
export * from './report/index.js';
