#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "base/drop_ins.hpp"

namespace {

TEST(DropIns, TheDirectoryIsNamedAfterTheFile) {
    EXPECT_EQ(fleet::drop_in_dir("/etc/fleet-dispatch/config.toml"),
              "/etc/fleet-dispatch/config.d");
    EXPECT_EQ(fleet::drop_in_dir("/srv/my.toml"), "/srv/my.d");
    EXPECT_EQ(fleet::drop_in_dir("/srv/settings"), "/srv/settings.d");
}

TEST(DropIns, OnlyPlainTomlNamesCount) {
    for (const char* name : {"50-setup.toml", "a.toml", "9_x.y-z.toml", "Local.toml"}) {
        EXPECT_TRUE(fleet::is_drop_in_name(name)) << name;
    }
    for (const char* name : {".toml", ".hidden.toml", "-x.toml", "x.toml~", "x.toml.dpkg-old",
                             "x.toml.dpkg-dist", "x.conf", "a b.toml", "a$(id).toml"}) {
        EXPECT_FALSE(fleet::is_drop_in_name(name)) << name;
    }
}

class ListDropIns : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fl-dropins.XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_dir = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }
    void touch(const std::string& name) const { std::ofstream(m_dir + "/config.d/" + name) << ""; }

    std::string m_dir;
};

TEST_F(ListDropIns, SortedPathsOfTheDropInsOnly) {
    std::filesystem::create_directory(m_dir + "/config.d");
    for (const char* name : {"60-b.toml", "10-a.toml", "notes.txt", "20.toml~", "Z.toml"}) {
        touch(name);
    }
    const auto listed = fleet::list_drop_ins(m_dir + "/config.toml", "config");
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    EXPECT_EQ(*listed, (std::vector<std::string>{m_dir + "/config.d/10-a.toml",
                                                 m_dir + "/config.d/60-b.toml",
                                                 m_dir + "/config.d/Z.toml"}));
}

TEST_F(ListDropIns, NoDirectoryIsNoneButAnythingElseIsAnError) {
    const auto none = fleet::list_drop_ins(m_dir + "/config.toml", "config");
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    std::ofstream(m_dir + "/config.d") << "a file, not a directory";
    const auto file = fleet::list_drop_ins(m_dir + "/config.toml", "config");
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.error().message, "config drop-ins " + m_dir + "/config.d: Not a directory");
}

TEST_F(ListDropIns, TooManyIsAnErrorAndTheLimitItselfIsNot) {
    std::filesystem::create_directory(m_dir + "/config.d");
    for (size_t i = 0; i < fleet::k_max_drop_ins; ++i) {
        touch(std::to_string(100 + i) + ".toml");
    }
    ASSERT_TRUE(fleet::list_drop_ins(m_dir + "/config.toml", "config").ok());
    touch("999.toml");
    const auto many = fleet::list_drop_ins(m_dir + "/config.toml", "config");
    ASSERT_FALSE(many.ok());
    EXPECT_NE(many.error().message.find("more than 64 files"), std::string::npos);
}

} // namespace
