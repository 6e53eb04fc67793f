#include <stdexcept>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/clock.hpp"
#include "guard/common/verdict.hpp"

namespace {

using fleet::Decision;

struct Outcome : fleet::Verdict {
    std::string output;
};

// The names are the audit log's vocabulary: operators' queries match on them.
TEST(Verdict, DecisionsHaveTheirAuditNames) {
    EXPECT_STREQ(fleet::decision_name(Decision::allowed), "allowed");
    EXPECT_STREQ(fleet::decision_name(Decision::refused), "refused");
    EXPECT_STREQ(fleet::decision_name(Decision::totp_refused), "totp_refused");
    EXPECT_STREQ(fleet::decision_name(Decision::usage_error), "usage_error");
    EXPECT_STREQ(fleet::decision_name(Decision::usage), "usage");
    EXPECT_STREQ(fleet::decision_name(Decision::failed), "failed");
}

// A reason may quote the caller's words: it is escaped, so it cannot end an audit line.
TEST(Verdict, ARefusalEscapesItsReason) {
    const fleet::Verdict verdict =
        fleet::refusal_verdict(2, Decision::refused, "service 'x\nforged' is not allowed");
    EXPECT_EQ(verdict.exit_code, 2);
    EXPECT_FALSE(verdict.allowed());
    EXPECT_EQ(verdict.reason.find('\n'), std::string::npos) << verdict.reason;
    EXPECT_TRUE(fleet::Verdict{}.allowed());
}

TEST(Verdict, TheAuditFieldsNameWhoAndWhen) {
    const auto started = std::chrono::steady_clock::now() - std::chrono::milliseconds(30);
    const nlohmann::json line =
        fleet::audit_fields(fleet::refusal_verdict(125, Decision::refused, "no"), started);
    EXPECT_EQ(line["decision"], "refused");
    EXPECT_EQ(line["reason"], "no");
    EXPECT_EQ(line["pid"], getpid());
    EXPECT_EQ(line["uid"], getuid());
    EXPECT_GE(line["duration_ms"].get<int64_t>(), 30);
    fleet::WallTime time;
    EXPECT_TRUE(fleet::parse_timestamp(line["time"], time)) << line["time"]; // RFC 3339, UTC
    EXPECT_LT(std::chrono::system_clock::now() - time, std::chrono::seconds(5));
}

// An exception while serving is a verdict like any other: audited and answered.
TEST(Verdict, ServeGuardedTurnsAnExceptionIntoAFailure) {
    const auto fail = [](const std::string& reason) {
        Outcome outcome;
        static_cast<fleet::Verdict&>(outcome) =
            fleet::refusal_verdict(126, Decision::failed, reason);
        return outcome;
    };
    const Outcome thrown =
        fleet::serve_guarded([]() -> Outcome { throw std::runtime_error("bad_alloc, say"); }, fail);
    EXPECT_EQ(thrown.decision, Decision::failed);
    EXPECT_EQ(thrown.exit_code, 126);
    EXPECT_EQ(thrown.reason, "internal error: bad_alloc, say");

    const Outcome served = fleet::serve_guarded(
        [] {
            Outcome outcome;
            outcome.output = "served";
            return outcome;
        },
        fail);
    EXPECT_TRUE(served.allowed());
    EXPECT_EQ(served.output, "served");
}

} // namespace
