// batonGetProcTable: the one entry point a host that dlopens baton needs. It checks the
// version the host was compiled against and fills a table of every public function.
#include <baton/baton_loader.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "core/entry.h"
#include "core/error.h"

// Every member of batonProcTable, in the header's order. Adding a public function means
// adding it here and at the end of batonProcTable; the static_asserts below catch a member
// that is not filled, filled out of order, or whose PFN type differs from the function.
#define BATON_PROC_TABLE_FUNCTIONS(X)      \
    X(batonGetErrorName)                   \
    X(batonGetErrorString)                 \
    X(batonGetLastErrorMessage)            \
    X(batonGetVersion)                     \
    X(batonImportExternalSemaphore)        \
    X(batonSignalExternalSemaphoresAsync)  \
    X(batonWaitExternalSemaphoresAsync)    \
    X(batonDestroyExternalSemaphore)       \
    X(batonExportExternalSemaphore)        \
    X(batonExternalSemaphoreGetInfo)       \
    X(batonExternalSemaphoreHostWait)      \
    X(batonGetWaitSubmitInfo)              \
    X(batonGetSignalSubmitInfo)            \
    X(batonContextCreate)                  \
    X(batonContextAttach)                  \
    X(batonContextDestroy)                 \
    X(batonCtxSetCurrent)                  \
    X(batonCtxGetCurrent)                  \
    X(batonContextGetInfo)                 \
    X(batonContextLockQueue)               \
    X(batonContextUnlockQueue)             \
    X(batonContextGetMessageCount)         \
    X(batonStreamCreate)                   \
    X(batonStreamDestroy)                  \
    X(batonStreamSynchronize)              \
    X(batonStreamQuery)                    \
    X(batonDeviceSynchronize)              \
    X(batonStreamRecord)                   \
    X(batonLaunchHostFunc)                 \
    X(batonEventCreate)                    \
    X(batonEventDestroy)                   \
    X(batonEventRecord)                    \
    X(batonEventQuery)                     \
    X(batonEventSynchronize)               \
    X(batonEventElapsedTime)               \
    X(batonStreamWaitEvent)             \
    X(batonChannelCreate)                 \
    X(batonChannelDestroy)                \
    X(batonChannelProduceFrame)           \
    X(batonChannelAcquireFrame)           \
    X(batonChannelReleaseFrame)           \
    X(batonChannelGetInfo)                \
    X(batonChannelExportFds)              \
    X(batonTelemetryEnable)               \
    X(batonTelemetryRead)                 \
    X(batonTelemetryGetSemaphoreStats)    \
    X(batonChannelGetStats)               \
    X(batonTelemetryGetApiStats)          \
    X(batonTraceStart)                    \
    X(batonTraceStop)                     \
    X(batonExportMemory)                  \
    X(batonImportMemory)                  \
    X(batonMemoryGetInfo)                 \
    X(batonDestroyMemory)                 \
    X(batonSendExternalSemaphore)         \
    X(batonReceiveExternalSemaphore)      \
    X(batonSendMemory)                    \
    X(batonReceiveMemory)                 \
    X(batonSendHandle)                    \
    X(batonReceiveHandle)                 \
    X(batonChannelSend)                   \
    X(batonChannelReceive)                \
    X(batonChannelWaitForFrame)           \
    X(batonChannelWaitForSlot)            \
    X(batonChannelGetPeerInfo)            \
    X(batonTelemetryReadFrames)           \
    X(batonTraceWrite) \
    X(batonGetDeviceCount) \
    X(batonSetDevice) \
    X(batonGetDevice) \
    X(batonGetDeviceProperties) \
    X(batonDeviceGetAttribute) \
    X(batonDeviceGetStreamPriorityRange) \
    X(batonStreamCreateWithFlags) \
    X(batonStreamCreateWithPriority) \
    X(batonGetLastError) \
    X(batonPeekAtLastError) \
    X(batonEventCreateWithFlags) \
    X(batonImportExternalMemory) \
    X(batonImportExternalMemoryWithType) \
    X(batonExternalMemoryGetMappedBuffer) \
    X(batonExternalMemoryGetMappedMipmappedArray) \
    X(batonDestroyExternalMemory) \
    X(batonFree) \
    X(batonFreeMipmappedArray) \
    X(batonMappedBufferGetInfo) \
    X(batonMipmappedArrayGetInfo) \
    X(batonChannelAcquireFrameWithFlags) \
    X(batonChannelCmdAcquireFrame)

namespace {

constexpr size_t kHeaderSize = offsetof(batonProcTable, batonGetErrorName);

#define BATON_CHECK_TYPE(name) \
    static_assert(std::is_same_v<PFN_##name, decltype(&::name)>, "PFN_" #name " does not match " #name);
BATON_PROC_TABLE_FUNCTIONS(BATON_CHECK_TYPE)
#undef BATON_CHECK_TYPE

#define BATON_OFFSET(name) offsetof(batonProcTable, name),
constexpr size_t kOffsets[] = {BATON_PROC_TABLE_FUNCTIONS(BATON_OFFSET)};
#undef BATON_OFFSET
constexpr uint32_t kFunctionCount = sizeof kOffsets / sizeof kOffsets[0];

constexpr bool listedInOrder() {
    for (uint32_t i = 0; i < kFunctionCount; ++i)
        if (kOffsets[i] != kHeaderSize + i * sizeof(void*)) return false;
    return true;
}
static_assert(listedInOrder(), "BATON_PROC_TABLE_FUNCTIONS must list batonProcTable's members in order");
static_assert(kHeaderSize + kFunctionCount * sizeof(void*) == sizeof(batonProcTable),
              "every member of batonProcTable must be in BATON_PROC_TABLE_FUNCTIONS");

batonProcTable fullTable() {
    batonProcTable t{};
    t.structSize = sizeof t;
    t.version = BATON_VERSION;
    t.functionCount = kFunctionCount;
#define BATON_FILL(name) t.name = &::name;
    BATON_PROC_TABLE_FUNCTIONS(BATON_FILL)
#undef BATON_FILL
    return t;
}

}  // namespace

using namespace baton;

namespace {

batonError_t fillProcTable(uint32_t requestedVersion, batonProcTable* table) {
    if (!table) return fail(batonErrorInvalidValue, "batonGetProcTable: table is NULL");
    const uint32_t size = table->structSize;
    if (size < kHeaderSize)
        return fail(batonErrorInvalidValue,
                    "batonGetProcTable: table->structSize is %u; set it to sizeof(batonProcTable) (at least %zu)", size,
                    kHeaderSize);
    // From here the host's struct is ours to write, up to its size.
    std::memset(table, 0, size);
    table->structSize = size;
    table->version = BATON_VERSION;

    const uint32_t major = requestedVersion / 10000, minor = requestedVersion / 100 % 100;
    if (major != BATON_VERSION_MAJOR || minor > BATON_VERSION_MINOR)
        return fail(batonErrorNotSupported,
                    "batonGetProcTable: the host was built against baton %u.%u.%u, this library is %d.%d.%d "
                    "(compatible: same major version, minor version at least the host's)",
                    major, minor, requestedVersion % 100, BATON_VERSION_MAJOR, BATON_VERSION_MINOR,
                    BATON_VERSION_PATCH);

    static const batonProcTable full = fullTable();
    // Whole pointers only: a structSize that ends inside a member leaves that member NULL.
    const size_t fit = ((size < sizeof full ? size : sizeof full) - kHeaderSize) / sizeof(void*);
    std::memcpy(reinterpret_cast<char*>(table) + kHeaderSize, reinterpret_cast<const char*>(&full) + kHeaderSize,
                fit * sizeof(void*));
    table->functionCount = static_cast<uint32_t>(fit);
    return ok();
}

}  // namespace

extern "C" BATON_API batonError_t batonGetProcTable(uint32_t requestedVersion, batonProcTable* table) {
    return guarded("batonGetProcTable", [&] { return fillProcTable(requestedVersion, table); });
}
