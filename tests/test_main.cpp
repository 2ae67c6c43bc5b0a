#include <gtest/gtest.h>

namespace batontest {
void installValidationListener();
void pinVulkanDriverLibraries();
bool attachModeStart();
int attachModeFinish(int rc);
}  // namespace batontest

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    batontest::installValidationListener();
    batontest::pinVulkanDriverLibraries();
    if (!batontest::attachModeStart()) return 1;
    return batontest::attachModeFinish(RUN_ALL_TESTS());
}
