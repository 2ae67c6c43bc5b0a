// Shared test support: every test runs with the Khronos validation layer on, and any
// validation error reported by a baton context during a test fails that test.
#pragma once

#include <atomic>
#include <string>

#include <baton/baton.h>

namespace batontest {

// Validation errors seen by contexts created with contextCreateInfo() (all tests).
extern std::atomic<unsigned long long> g_validationErrors;

// Create info for a standalone context with validation on and messages counted.
batonContextCreateInfo contextCreateInfo(unsigned flags = 0);

// The message callback used by contextCreateInfo(); use it for attached contexts too.
void messageCallback(batonMessageSeverity severity, const char* message, void* user);

// Validation errors reported so far by the default context plus g_validationErrors.
unsigned long long validationErrorsSoFar();

// Number of open file descriptors of this process.
int openFdCount();
// "fd->target " for every open fd, for messages that say which fd appeared.
std::string openFdList();
// What changed between two openFdList()s ("+fd->target" opened, "-fd->target" closed),
// leaving out device-node fds the NVIDIA driver opens for its own mappings. Empty: no change.
std::string fdChanges(const std::string& before, const std::string& after);
// Whether fd is open.
bool fdIsOpen(int fd);
// Whether fd is a memfd (its /proc/self/fd link reads "/memfd:...").
bool fdIsMemfd(int fd);

// Path of a helper executable built beside the test binaries.
std::string helperPath(const char* name);

}  // namespace batontest

// Fails the current test with the call's error name and message when it is not batonSuccess.
#define BATON_ASSERT_OK(call)                                                                        \
    do {                                                                                             \
        batonError_t baton_assert_err_ = (call);                                                     \
        ASSERT_EQ(baton_assert_err_, batonSuccess)                                                   \
            << #call << " -> " << batonGetErrorName(baton_assert_err_) << ": " << batonGetLastErrorMessage(); \
    } while (0)
