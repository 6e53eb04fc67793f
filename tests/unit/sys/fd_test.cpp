#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sys/fd.hpp"

namespace {

bool is_open(int fd) {
    return fcntl(fd, F_GETFD) >= 0;
}

TEST(Fd, ClosesOnceWhateverMovesIt) {
    int raw = -1;
    {
        fleet::Fd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
        raw = fd.get();
        ASSERT_TRUE(fd.valid());
        fleet::Fd moved(std::move(fd));
        // NOLINTNEXTLINE(bugprone-use-after-move,clang-analyzer-cplusplus.Move): the point
        EXPECT_FALSE(fd.valid());
        EXPECT_EQ(moved.get(), raw);
        fleet::Fd assigned;
        assigned = std::move(moved);
        EXPECT_EQ(assigned.get(), raw);
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(Fd, AssignmentClosesWhatItHeld) {
    fleet::Fd first(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int held = first.get();
    first = fleet::Fd(open("/dev/zero", O_RDONLY | O_CLOEXEC));
    EXPECT_NE(first.get(), -1);
    // `held` may be reused by the new open: it is closed unless it is the new fd.
    EXPECT_TRUE(first.get() == held || !is_open(held));
}

TEST(Fd, ReleaseGivesUpOwnershipResetClosesNow) {
    fleet::Fd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int raw = fd.release();
    EXPECT_FALSE(fd.valid());
    EXPECT_TRUE(is_open(raw));
    close(raw);
    fleet::Fd other(open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int other_raw = other.get();
    other.reset();
    EXPECT_FALSE(is_open(other_raw));
    other.reset(); // twice: nothing
}

} // namespace
