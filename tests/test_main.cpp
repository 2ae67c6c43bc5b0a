#include <gtest/gtest.h>

namespace batontest {
void installValidationListener();
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    batontest::installValidationListener();
    return RUN_ALL_TESTS();
}
