/** Compile-time constant set by asconfig.json (`use: ["DEBUG=1"]` in the debug target). */
declare const DEBUG: i32;
