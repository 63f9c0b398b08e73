/**
 * memvisor: the public API. Everything a user imports from 'memvisor' is exported here.
 */
export { Engine, FrameKind, NO_FRAME, MAX_MACHINE_MIB, type EngineOptions, type EngineFlavor, type RegionInfo } from './engine.js';
export {
  MemvisorError, ConfigError, CodecError, EngineAbortError, EnginePoisonedError, OutOfLinearMemoryError,
} from './errors.js';
export { xxh64, xxh3 } from './hash.js';
export {
  Mmu, FaultKind, TranslationFaultError, DEFAULT_COSTS, DEFAULT_TLB, DEFAULT_PWC, DEFAULT_NTLB,
  type MmuOptions, type VmOptions, type MmuVm, type MmuMode, type PageSize, type AccessKind, type CacheGeometry,
  type CostModel, type Fault, type Translation, type MmuStats, type TranslationBatch,
} from './mmu.js';
