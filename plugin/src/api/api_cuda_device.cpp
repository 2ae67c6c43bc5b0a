// Device selection in CUDA's shape (baton_cuda.h): the device list, a current device per
// thread (the current context), per-device contexts kept for the life of the process.
#include <baton/baton_cuda.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "api/c_enum.h"
#include "core/entry.h"
#include "core/error.h"
#include "cuda/device_list.h"
#include "exec/context.h"

using namespace baton;

namespace {

// Contexts of devices 1..n-1, made by batonSetDevice on first use (device 0 is the default
// context). Handles, so that one the user destroyed is noticed and made again.
std::mutex g_primaryMutex;
std::vector<batonContext_t>* g_primary = nullptr;  // leaked on purpose, like the default context

batonError_t primaryContext(int device, const DeviceRecord& rec, batonContext_t* out) {
    std::lock_guard lock(g_primaryMutex);
    if (!g_primary) g_primary = new std::vector<batonContext_t>;
    if (g_primary->size() <= static_cast<size_t>(device)) g_primary->resize(static_cast<size_t>(device) + 1);
    batonContext_t& slot = (*g_primary)[static_cast<size_t>(device)];
    if (slot && isLiveHandle(slot, ObjectType::Context)) {
        *out = slot;
        return batonSuccess;
    }
    batonContextCreateInfo ci{};
    ci.deviceUUID = rec.uuid;
    batonContext_t made = nullptr;
    batonError_t e = batonContextCreate(&made, &ci);
    if (e != batonSuccess) return e;
    slot = made;
    *out = made;
    return batonSuccess;
}

batonError_t attribute(const DeviceRecord& rec, int attr, int* value) {
    const batonDeviceProp& p = rec.prop;
    switch (attr) {
        case batonDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
        case batonDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(p.sharedMemPerBlock); break;
        case batonDevAttrTotalConstantMemory: *value = static_cast<int>(p.totalConstMem); break;
        case batonDevAttrWarpSize: *value = p.warpSize; break;
        case batonDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
        case batonDevAttrIntegrated: *value = p.integrated; break;
        case batonDevAttrComputeMode: *value = batonComputeModeDefault; break;
        case batonDevAttrPciBusId: *value = p.pciBusID; break;
        case batonDevAttrPciDeviceId: *value = p.pciDeviceID; break;
        case batonDevAttrUnifiedAddressing: *value = p.unifiedAddressing; break;
        case batonDevAttrPciDomainId: *value = p.pciDomainID; break;
        case batonDevAttrComputeCapabilityMajor: *value = p.major; break;
        case batonDevAttrComputeCapabilityMinor: *value = p.minor; break;
        case batonDevAttrConcurrentManagedAccess: *value = 0; break;
        case batonDevAttrTimelineSemaphoreInteropSupported: *value = rec.timelineInterop ? 1 : 0; break;
        default:
            return fail(batonErrorInvalidValue, "batonDeviceGetAttribute: attribute %d is not one baton answers "
                                                "(baton_cuda.h lists them)", attr);
    }
    return batonSuccess;
}

}  // namespace

extern "C" {

BATON_API batonError_t batonGetDeviceCount(int* count) {
    return guarded("batonGetDeviceCount", [&] {
        if (!count) return fail(batonErrorInvalidValue, "batonGetDeviceCount: count is NULL");
        if (forkedFromBaton()) return forkedError("batonGetDeviceCount");
        const std::vector<DeviceRecord>* list = nullptr;
        batonError_t e = deviceList(&list);
        if (e != batonSuccess) {
            *count = 0;  // as CUDA does when there is no device
            return e;
        }
        *count = static_cast<int>(list->size());
        return ok();
    });
}

BATON_API batonError_t batonSetDevice(int device) {
    return guarded("batonSetDevice", [&] {
        if (forkedFromBaton()) return forkedError("batonSetDevice");
        const DeviceRecord* rec = nullptr;
        batonError_t e = deviceRecord(device, &rec);
        if (e != batonSuccess) return e;
        if (device == 0) return batonCtxSetCurrent(nullptr);  // the default context's device
        batonContext_t ctx = nullptr;
        if ((e = primaryContext(device, *rec, &ctx)) != batonSuccess) return e;
        return batonCtxSetCurrent(ctx);
    });
}

BATON_API batonError_t batonGetDevice(int* device) {
    return guarded("batonGetDevice", [&] {
        if (!device) return fail(batonErrorInvalidValue, "batonGetDevice: device is NULL");
        const std::vector<DeviceRecord>* list = nullptr;
        batonError_t e = deviceList(&list);
        if (e != batonSuccess) return e;
        Context* c = nullptr;
        if ((e = currentContextEvenIfLost(&c)) != batonSuccess) return e;
        ScopedRef<Context> hold(c);
        for (size_t i = 0; i < list->size(); ++i)
            if (std::memcmp((*list)[i].uuid, c->deviceUUID, VK_UUID_SIZE) == 0) {
                *device = static_cast<int>(i);
                return ok();
            }
        return fail(batonErrorInvalidDevice, "the current context's device (%s) is not one baton lists",
                    c->properties.deviceName);
    });
}

BATON_API batonError_t batonGetDeviceProperties(batonDeviceProp* prop, int device) {
    return guarded("batonGetDeviceProperties", [&] {
        if (!prop) return fail(batonErrorInvalidValue, "batonGetDeviceProperties: prop is NULL");
        const DeviceRecord* rec = nullptr;
        batonError_t e = deviceRecord(device, &rec);
        if (e != batonSuccess) return e;
        *prop = rec->prop;
        return ok();
    });
}

BATON_API batonError_t batonDeviceGetAttribute(int* value, batonDeviceAttr attr, int device) {
    return guarded("batonDeviceGetAttribute", [&] {
        if (!value) return fail(batonErrorInvalidValue, "batonDeviceGetAttribute: value is NULL");
        const DeviceRecord* rec = nullptr;
        batonError_t e = deviceRecord(device, &rec);
        if (e != batonSuccess) return e;
        if ((e = attribute(*rec, rawEnum(attr), value)) != batonSuccess) return e;
        return ok();
    });
}

BATON_API batonError_t batonDeviceGetStreamPriorityRange(int* leastPriority, int* greatestPriority) {
    return guarded("batonDeviceGetStreamPriorityRange", [&] {
        if (leastPriority) *leastPriority = 0;
        if (greatestPriority) *greatestPriority = 0;
        return ok();
    });
}

}  // extern "C"
