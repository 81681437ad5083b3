// sqlite3_config is variadic, which Swift cannot call: this wraps the one process-wide setting
// the store makes.
#ifndef STAGELINK_CSQLITESETTINGS_SHIM_H
#define STAGELINK_CSQLITESETTINGS_SHIM_H

#include <sqlite3.h>

/// Turns off SQLite's memory statistics, which take a process-wide mutex on every allocation.
/// Only takes effect before SQLite is first used in the process (SQLITE_MISUSE after).
static inline int stagelink_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#endif
