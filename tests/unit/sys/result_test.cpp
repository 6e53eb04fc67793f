#include <cerrno>
#include <string>

#include <gtest/gtest.h>

#include "sys/result.hpp"

namespace {

TEST(Result, HoldsAValueOrAnError) {
    const fleet::Result<std::string> value(std::string("x"));
    ASSERT_TRUE(value);
    EXPECT_EQ(*value, "x");
    EXPECT_EQ(value->size(), 1U);
    const fleet::Result<std::string> error = fleet::input_error("bad");
    ASSERT_FALSE(error);
    EXPECT_EQ(error.error().kind, fleet::ErrorKind::invalid_input);
    EXPECT_EQ(error.error().message, "bad");
    const fleet::Status ok = fleet::Ok{};
    EXPECT_TRUE(ok.ok());
}

TEST(Result, SystemErrorsNameTheCallAndTheErrno) {
    const fleet::Error error = fleet::system_error("open /etc/x", ENOENT);
    EXPECT_EQ(error.kind, fleet::ErrorKind::system);
    EXPECT_EQ(error.message, "open /etc/x: No such file or directory");
}

} // namespace
