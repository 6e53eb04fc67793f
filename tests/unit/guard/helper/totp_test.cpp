#include <gtest/gtest.h>

#include "guard/helper/totp.hpp"

namespace fleet {
namespace {

const std::string k_rfc_secret = "12345678901234567890"; // RFC 6238 Appendix B, SHA-1

class Totp : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(init_oath()); }

    static std::string code_at(time_t now) { return *totp_code(k_rfc_secret, now, 6); }
};

TEST_F(Totp, MatchesTheRfc6238Vectors) {
    const std::pair<time_t, const char*> vectors[] = {
        {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
        {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
    };
    for (const auto& [now, expected] : vectors) {
        EXPECT_EQ(*totp_code(k_rfc_secret, now, 8), expected) << now;
    }
    EXPECT_EQ(code_at(59), "287082");
}

TEST_F(Totp, AcceptsTheCurrentStepAndOneEitherSide) {
    const time_t now = 1111111111;
    for (const time_t when : {now - 30, now, now + 30}) {
        TotpState state;
        const TotpCheck check = check_totp(k_rfc_secret, code_at(when), now, state);
        EXPECT_EQ(check.verdict, TotpVerdict::accepted) << when - now;
        EXPECT_EQ(check.counter, static_cast<uint64_t>(when / 30));
        EXPECT_EQ(state.last_counter, check.counter);
    }
    for (const time_t when : {now - 60, now + 60, now - 3600}) {
        TotpState state;
        EXPECT_EQ(check_totp(k_rfc_secret, code_at(when), now, state).verdict, TotpVerdict::wrong)
            << when - now;
        EXPECT_EQ(state.failures.size(), 1U);
    }
}

TEST_F(Totp, RefusesMalformedCodesBeforeLiboathSeesThem) {
    const time_t now = 1111111111;
    const std::string good = code_at(now);
    for (const std::string& bad :
         {good.substr(0, 5), good + "0", " " + good.substr(1), "+" + good.substr(1),
          "-" + good.substr(1), good.substr(0, 5) + "a", std::string("\xef\xbc\x91") + "23456",
          std::string("12345\0", 6), std::string(""), std::string("0x1234"), good + "\n"}) {
        TotpState state;
        EXPECT_EQ(check_totp(k_rfc_secret, bad, now, state).verdict, TotpVerdict::malformed) << bad;
    }
    TotpState state;
    EXPECT_EQ(check_totp(k_rfc_secret, good, now, state).verdict, TotpVerdict::accepted);
}

TEST_F(Totp, RefusesReplayAndOlderSteps) {
    const time_t now = 1111111111;
    TotpState state;
    ASSERT_EQ(check_totp(k_rfc_secret, code_at(now), now, state).verdict, TotpVerdict::accepted);
    EXPECT_EQ(check_totp(k_rfc_secret, code_at(now), now, state).verdict, TotpVerdict::replayed);
    EXPECT_EQ(check_totp(k_rfc_secret, code_at(now - 30), now, state).verdict,
              TotpVerdict::replayed);
    EXPECT_EQ(check_totp(k_rfc_secret, code_at(now + 30), now + 30, state).verdict,
              TotpVerdict::accepted);
}

TEST_F(Totp, LocksOutAfterFiveFailuresInFiveMinutes) {
    time_t now = 1111111111;
    TotpState state;
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(check_totp(k_rfc_secret, "000000", now + i, state).verdict, TotpVerdict::wrong);
    }
    EXPECT_EQ(state.locked_until, 0);
    EXPECT_EQ(check_totp(k_rfc_secret, "00000x", now + 4, state).verdict, TotpVerdict::malformed);
    EXPECT_EQ(state.locked_until, now + 4 + 300);
    now += 100;
    const TotpCheck locked = check_totp(k_rfc_secret, code_at(now), now, state);
    EXPECT_EQ(locked.verdict, TotpVerdict::locked);
    EXPECT_NE(locked.reason.find("locked"), std::string::npos);
    now = state.locked_until;
    EXPECT_EQ(check_totp(k_rfc_secret, code_at(now), now, state).verdict, TotpVerdict::accepted);
}

TEST_F(Totp, FailuresOlderThanFiveMinutesAreForgotten) {
    const time_t now = 1111111111;
    TotpState state;
    for (int i = 0; i < 4; ++i) {
        check_totp(k_rfc_secret, "000000", now + i, state);
    }
    check_totp(k_rfc_secret, "000000", now + 400, state);
    EXPECT_EQ(state.locked_until, 0);
    EXPECT_EQ(state.failures.size(), 1U);
}

TEST_F(Totp, Base32RoundTripAndUri) {
    Result<std::string> encoded = base32_encode(k_rfc_secret);
    ASSERT_TRUE(encoded);
    EXPECT_EQ(*encoded, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    EXPECT_EQ(*base32_decode(*encoded), k_rfc_secret);
    EXPECT_FALSE(base32_decode("not base32!"));
    EXPECT_EQ(otpauth_uri("ABC", "fleet-helper@web 1"),
              "otpauth://totp/fleet-dispatch:fleet-helper%40web%201?secret=ABC&issuer=fleet-"
              "dispatch&algorithm=SHA1&digits=6&period=30");
}

} // namespace
} // namespace fleet
