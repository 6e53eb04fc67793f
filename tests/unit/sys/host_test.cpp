#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "sys/host.hpp"

namespace {

// The kernel's own copy of the name, read another way.
TEST(HostName, IsTheKernelsName) {
    std::ifstream file("/proc/sys/kernel/hostname");
    std::string kernel;
    ASSERT_TRUE(std::getline(file, kernel));
    EXPECT_FALSE(kernel.empty());
    EXPECT_EQ(fleet::host_name(), kernel);
}

} // namespace
