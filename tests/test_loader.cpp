// batonGetProcTable: version negotiation and the struct-size contract that lets hosts built
// against older or newer headers load this library safely.
#include <baton/baton_loader.h>

#include <cstddef>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace {

constexpr size_t kHeader = offsetof(batonProcTable, batonGetErrorName);
constexpr uint32_t kFunctions = static_cast<uint32_t>((sizeof(batonProcTable) - kHeader) / sizeof(void*));

uint32_t version(uint32_t major, uint32_t minor, uint32_t patch) { return major * 10000 + minor * 100 + patch; }

TEST(ProcTable, FillsEveryFunctionWithTheLibrarysOwn) {
    batonProcTable t{};
    t.structSize = sizeof t;
    ASSERT_EQ(batonGetProcTable(BATON_VERSION, &t), batonSuccess) << batonGetLastErrorMessage();
    EXPECT_EQ(t.version, static_cast<uint32_t>(BATON_VERSION));
    EXPECT_EQ(t.functionCount, kFunctions);
    EXPECT_EQ(t.structSize, sizeof t);
    void* slots[kFunctions];
    std::memcpy(slots, reinterpret_cast<const char*>(&t) + kHeader, sizeof slots);
    for (uint32_t i = 0; i < kFunctions; ++i) EXPECT_NE(slots[i], nullptr) << "member " << i;
    EXPECT_EQ(t.batonStreamCreate, &batonStreamCreate);
    EXPECT_EQ(t.batonStreamWaitEvent, &batonStreamWaitEvent);
    EXPECT_STREQ(t.batonGetErrorName(batonErrorInvalidValue), "batonErrorInvalidValue");
    int v = 0;
    EXPECT_EQ(t.batonGetVersion(&v), batonSuccess);
    EXPECT_EQ(v, BATON_VERSION);
}

TEST(ProcTable, RefusesNullTableAndTooSmallStruct) {
    EXPECT_EQ(batonGetProcTable(BATON_VERSION, nullptr), batonErrorInvalidValue);
    batonProcTable t;
    std::memset(&t, 0xAB, sizeof t);
    t.structSize = static_cast<uint32_t>(kHeader - 1);
    EXPECT_EQ(batonGetProcTable(BATON_VERSION, &t), batonErrorInvalidValue);
    EXPECT_NE(std::string(batonGetLastErrorMessage()).find("structSize"), std::string::npos);
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(&t);
    for (size_t i = sizeof t.structSize; i < sizeof t; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i << " written";
}

// A host built against an older header knows fewer functions: only its part is written.
TEST(ProcTable, OlderHeaderGetsItsPrefixOnly) {
    batonProcTable t;
    std::memset(&t, 0xAB, sizeof t);
    t.structSize = static_cast<uint32_t>(offsetof(batonProcTable, batonImportExternalSemaphore));  // knows 4
    ASSERT_EQ(batonGetProcTable(BATON_VERSION, &t), batonSuccess);
    EXPECT_EQ(t.functionCount, 4u);
    EXPECT_EQ(t.batonGetVersion, &batonGetVersion);
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(&t);
    for (size_t i = t.structSize; i < sizeof t; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i << " past structSize";
}

// A size that ends inside a member leaves that member NULL rather than half a pointer.
TEST(ProcTable, PartialMemberIsNotFilled) {
    batonProcTable t;
    std::memset(&t, 0xAB, sizeof t);
    t.structSize = static_cast<uint32_t>(kHeader + 2 * sizeof(void*) + 3);
    ASSERT_EQ(batonGetProcTable(BATON_VERSION, &t), batonSuccess);
    EXPECT_EQ(t.functionCount, 2u);
    EXPECT_EQ(t.batonGetErrorString, &batonGetErrorString);
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(&t);
    for (size_t i = kHeader + 2 * sizeof(void*); i < t.structSize; ++i) EXPECT_EQ(bytes[i], 0) << "byte " << i;
}

// A host built against a newer header (same major) has members this library does not know:
// they come back NULL, and functionCount says how many are real.
TEST(ProcTable, NewerHeaderGetsNullForUnknownMembers) {
    struct Newer {
        batonProcTable known;
        void* future[3];
    } t;
    std::memset(&t, 0xAB, sizeof t);
    t.known.structSize = sizeof t;
    // Same major and minor: compatible.
    ASSERT_EQ(batonGetProcTable(BATON_VERSION, &t.known), batonSuccess);
    EXPECT_EQ(t.known.functionCount, kFunctions);
    for (void* p : t.future) EXPECT_EQ(p, nullptr);
}

TEST(ProcTable, CompatibleVersions) {
    batonProcTable t{};
    t.structSize = sizeof t;
    // Any patch level of this minor version.
    EXPECT_EQ(batonGetProcTable(version(BATON_VERSION_MAJOR, BATON_VERSION_MINOR, 99), &t), batonSuccess);
    // An older minor version of the same major: this library has everything it needs.
    EXPECT_EQ(batonGetProcTable(version(BATON_VERSION_MAJOR, 0, 0), &t), batonSuccess);
}

TEST(ProcTable, IncompatibleVersionsAreRefusedWithTheVersionFound) {
    const uint32_t refused[] = {
        version(BATON_VERSION_MAJOR + 1, 0, 0),                    // another major version
        version(BATON_VERSION_MAJOR, BATON_VERSION_MINOR + 1, 0),  // needs functions this library may lack
    };
    for (uint32_t requested : refused) {
        batonProcTable t;
        std::memset(&t, 0xAB, sizeof t);
        t.structSize = sizeof t;
        EXPECT_EQ(batonGetProcTable(requested, &t), batonErrorNotSupported) << requested;
        EXPECT_EQ(t.version, static_cast<uint32_t>(BATON_VERSION));
        EXPECT_EQ(t.functionCount, 0u);
        EXPECT_EQ(t.batonGetErrorName, nullptr);
        EXPECT_EQ(t.batonStreamWaitEvent, nullptr);
        std::string m = batonGetLastErrorMessage();
        EXPECT_NE(m.find(std::to_string(requested / 10000) + "." + std::to_string(requested / 100 % 100)), std::string::npos)
            << m;
    }
}

}  // namespace
