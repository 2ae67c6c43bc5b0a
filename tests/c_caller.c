/* Calls baton the way a C program does, with ints where the API has enums: C allows any int
 * in an enum, C++ does not (loading an out-of-range enum is undefined), so the bad-input
 * table makes these calls from C. Compiling this file also checks that baton.h is C. */
#include <baton/baton.h>

const char* batontestErrorName(int code) { return batonGetErrorName((batonError_t)code); }

const char* batontestErrorString(int code) { return batonGetErrorString((batonError_t)code); }

batonError_t batontestMessageCount(int severity, unsigned long long* count) {
    return batonContextGetMessageCount(NULL, (batonMessageSeverity)severity, count);
}
