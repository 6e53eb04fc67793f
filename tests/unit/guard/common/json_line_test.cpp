#include <gtest/gtest.h>

#include "guard/common/json_line.hpp"

namespace fleet {
namespace {

TEST(JsonLine, IsOneAsciiLine) {
    const std::string line = json_line({{"text", "a\nb\u00e9\x1b"}});
    EXPECT_EQ(line, R"({"text":"a\nb\u00e9\u001b"})");
}

} // namespace
} // namespace fleet
