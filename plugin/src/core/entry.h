// Exception safety at the C boundary. Every extern "C" entry point runs its body through
// guarded(): an exception never crosses into C code (which would terminate the process).
// std::bad_alloc becomes batonErrorMemoryAllocation, anything else batonErrorUnknown, each
// with a message naming the entry point. Bodies must already undo partial work on every
// path (RAII), so a throw leaves nothing half-made. Every result is noted for
// batonGetLastError (core/error.h).
#pragma once

#include <exception>
#include <new>

#include <baton/baton.h>

#include "core/error.h"

namespace baton {

template <class Body>
batonError_t guarded(const char* entry, Body&& body) noexcept {
    try {
        return noteResult(body());
    } catch (const std::bad_alloc&) {
        return noteResult(fail(batonErrorMemoryAllocation, "%s: out of host memory", entry));
    } catch (const std::exception& e) {
        return noteResult(fail(batonErrorUnknown, "%s: internal error: %s", entry, e.what()));
    } catch (...) {
        return noteResult(fail(batonErrorUnknown, "%s: internal error", entry));
    }
}

}  // namespace baton
