#include <unistd.h>

#include <gtest/gtest.h>

#include "launch/identity.hpp"

namespace {

TEST(ParseIdNumber, AcceptsWholeDecimalIdsInRange) {
    EXPECT_EQ(*fleet::parse_id_number("1"), 1U);
    EXPECT_EQ(*fleet::parse_id_number("1000"), 1000U);
    EXPECT_EQ(*fleet::parse_id_number("65534"), 65534U);
    EXPECT_EQ(*fleet::parse_id_number("2147483646"), 2147483646U);
}

TEST(ParseIdNumber, RefusesEveryOtherSpelling) {
    for (const char* text : {"0", "-1", "+1", "4294967295", "2147483647", "99999999999", "01000",
                             "00", "1.5", "1e3", " 1", "1 ", "", "0x10", "abc", "12a"}) {
        const auto result = fleet::parse_id_number(text);
        EXPECT_FALSE(result.ok()) << "'" << text << "'";
        if (!result) {
            EXPECT_EQ(result.error().kind, fleet::ErrorKind::invalid_input);
        }
    }
}

TEST(ParseUserSpec, SplitsUserAndGroup) {
    auto plain = fleet::parse_user_spec("ubuntu");
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->user, "ubuntu");
    EXPECT_EQ(plain->group, "");
    auto both = fleet::parse_user_spec("1000:adm");
    ASSERT_TRUE(both.ok());
    EXPECT_EQ(both->user, "1000");
    EXPECT_EQ(both->group, "adm");
}

TEST(ParseUserSpec, RefusesEmptyPartsExtraColonsAndSigns) {
    for (const char* spec :
         {"", ":", "user:", ":group", "a:b:c", "-1", "+1000", "user:-5", "user:+adm"}) {
        EXPECT_FALSE(fleet::parse_user_spec(spec).ok()) << "'" << spec << "'";
    }
}

TEST(IsAllDigits, OnlyAsciiDigits) {
    EXPECT_TRUE(fleet::is_all_digits("0123"));
    EXPECT_FALSE(fleet::is_all_digits(""));
    EXPECT_FALSE(fleet::is_all_digits("0day"));
    EXPECT_FALSE(fleet::is_all_digits("-1"));
}

TEST(ResolveIdentity, ResolvesNobodyByNameAndNumber) {
    for (const char* spec : {"nobody", "65534", "nobody:nogroup", "65534:65534"}) {
        const auto identity = fleet::resolve_identity(spec, {});
        ASSERT_TRUE(identity.ok()) << spec << ": " << identity.error().message;
        EXPECT_EQ(identity->uid, 65534U);
        EXPECT_EQ(identity->gid, 65534U);
        EXPECT_EQ(identity->name, "nobody");
        EXPECT_EQ(identity->groups, std::vector<gid_t>{65534});
    }
}

TEST(ResolveIdentity, NeverTargetsRoot) {
    for (const char* spec : {"root", "0", "nobody:root", "nobody:0"}) {
        const auto identity = fleet::resolve_identity(spec, {});
        ASSERT_FALSE(identity.ok()) << spec;
        EXPECT_EQ(identity.error().kind, fleet::ErrorKind::invalid_input);
    }
}

TEST(ResolveIdentity, UnknownNamesAreInvalidInput) {
    const auto identity = fleet::resolve_identity("0day", {});
    ASSERT_FALSE(identity.ok());
    EXPECT_EQ(identity.error().kind, fleet::ErrorKind::invalid_input);
    EXPECT_EQ(identity.error().message, "no such user '0day'");
}

TEST(ResolveIdentity, DropGroupMustExistAndNotBePrimary) {
    EXPECT_FALSE(fleet::resolve_identity("nobody", {"no-such-group-xyz"}).ok());
    EXPECT_FALSE(fleet::resolve_identity("nobody", {"nogroup"}).ok()); // primary
    EXPECT_TRUE(fleet::resolve_identity("nobody", {"adm"}).ok());      // not a member: no-op
}

TEST(CurrentIdentity, MatchesTheProcess) {
    const auto identity = fleet::current_identity();
    ASSERT_TRUE(identity.ok()) << identity.error().message;
    EXPECT_EQ(identity->uid, getuid());
    EXPECT_EQ(identity->gid, getgid());
}

} // namespace
