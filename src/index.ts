/**
 * memvisor: the public API. Everything a user imports from 'memvisor' is exported here.
 */
export { Engine, FrameKind, NO_FRAME, MAX_MACHINE_MIB, type EngineOptions, type EngineFlavor, type RegionInfo } from './engine.js';
export {
  MemvisorError, ConfigError, CodecError, EngineAbortError, EnginePoisonedError, OutOfLinearMemoryError,
} from './errors.js';
export { xxh64, xxh3 } from './hash.js';
