#include <string>

#include <gtest/gtest.h>

#include "guard/common/names.hpp"

namespace {

// Each refusal next to a control that passes.
TEST(Names, UnitNames) {
    for (const char* good :
         {"nginx", "nginx.service", "app@1.service", "sys-fs-fuse.mount", "a:b_c-d", "1nginx"}) {
        EXPECT_TRUE(fleet::is_valid_unit_name(good)) << good;
    }
    for (const char* bad : {"", "-nginx", "--help", ".hidden", "a..b", "1234", "nginx*", "a/b",
                            "a b", "nginx;id", "ngïnx"}) {
        EXPECT_FALSE(fleet::is_valid_unit_name(bad)) << bad;
    }
    EXPECT_TRUE(fleet::is_valid_unit_name(std::string(255, 'a')));
    EXPECT_FALSE(fleet::is_valid_unit_name(std::string(256, 'a')));
}

TEST(Names, PackageNames) {
    for (const char* good : {"htop", "g++", "libc6", "python3.11", "lib-foo", "0ad"}) {
        EXPECT_TRUE(fleet::is_valid_package_name(good)) << good;
    }
    for (const char* bad : {"", "a", "Htop", "-htop", "+x", ".x", "a..b", "htop=1.0", "htop/sid",
                            "htop:amd64", "ht op", "*"}) {
        EXPECT_FALSE(fleet::is_valid_package_name(bad)) << bad;
    }
}

TEST(Names, ContainerNames) {
    for (const char* good : {"web", "Web_1", "a.b-c", "0"}) {
        EXPECT_TRUE(fleet::is_valid_container_name(good)) << good;
    }
    for (const char* bad : {"", "-web", "_web", ".web", "a/b", "a b", "a;b", "--all"}) {
        EXPECT_FALSE(fleet::is_valid_container_name(bad)) << bad;
    }
    EXPECT_TRUE(fleet::is_valid_container_name(std::string(128, 'a')));
    EXPECT_FALSE(fleet::is_valid_container_name(std::string(129, 'a')));
}

} // namespace
