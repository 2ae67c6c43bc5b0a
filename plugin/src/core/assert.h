// Invariant checks. BATON_ASSERT(cond) aborts with the condition, file and line in debug and
// sanitizer builds (BATON_ENABLE_ASSERTS), and compiles to nothing in release builds, where
// errors stay error codes: an assert states what the code around it already guarantees,
// never a check of user input or of what another process wrote.
#pragma once

#if defined(BATON_ENABLE_ASSERTS) && BATON_ENABLE_ASSERTS
#include <cstdio>
#include <cstdlib>
#define BATON_ASSERT(cond)                                                                  \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            std::fprintf(stderr, "baton: invariant failed: %s (%s:%d)\n", #cond, __FILE__,  \
                         __LINE__);                                                         \
            std::abort();                                                                   \
        }                                                                                   \
    } while (0)
#else
#define BATON_ASSERT(cond) \
    do {                   \
    } while (0 && (cond))
#endif
