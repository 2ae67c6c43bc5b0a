#include <gtest/gtest.h>

namespace batontest {
void installValidationListener();
void pinVulkanDriverLibraries();
void warmUpFdProbe();
bool attachModeStart();
int attachModeFinish(int rc);
}  // namespace batontest

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    batontest::installValidationListener();
    batontest::pinVulkanDriverLibraries();
    // Not while CTest only lists the cases (InitGoogleTest has consumed the flag by now).
    if (!::testing::GTEST_FLAG(list_tests)) batontest::warmUpFdProbe();
    if (!batontest::attachModeStart()) return 1;
    return batontest::attachModeFinish(RUN_ALL_TESTS());
}
