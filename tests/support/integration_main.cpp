// main() for integration suites: they create users, drop privileges and run sudo for real, so
// they need root. Without it the whole suite is skipped (exit 77, ctest's SKIP_RETURN_CODE).
#include <cstdio>
#include <unistd.h>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
    if (geteuid() != 0) {
        std::puts(
            "skipped: integration suites run as root (they create users and drop privileges)");
        return 77;
    }
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
