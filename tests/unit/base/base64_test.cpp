#include <gtest/gtest.h>

#include "base/base64.hpp"

namespace {

// RFC 4648 §10, without the padding.
TEST(Base64, EncodesTheStandardVectorsUnpadded) {
    EXPECT_EQ(fleet::base64_unpadded(""), "");
    EXPECT_EQ(fleet::base64_unpadded("f"), "Zg");
    EXPECT_EQ(fleet::base64_unpadded("fo"), "Zm8");
    EXPECT_EQ(fleet::base64_unpadded("foo"), "Zm9v");
    EXPECT_EQ(fleet::base64_unpadded("foob"), "Zm9vYg");
    EXPECT_EQ(fleet::base64_unpadded("fooba"), "Zm9vYmE");
    EXPECT_EQ(fleet::base64_unpadded("foobar"), "Zm9vYmFy");
    EXPECT_EQ(fleet::base64_unpadded(std::string("\xfb\xff\x00", 3)), "+/8A");
}

TEST(Base64, DecodesPaddedAndUnpadded) {
    EXPECT_EQ(fleet::base64_decode("Zm9vYmFy"), "foobar");
    EXPECT_EQ(fleet::base64_decode("Zm9vYg=="), "foob");
    EXPECT_EQ(fleet::base64_decode("Zm9vYg"), "foob");
    EXPECT_EQ(fleet::base64_decode("Zm9vYmE="), "fooba");
    EXPECT_EQ(fleet::base64_decode("+/8A"), std::string("\xfb\xff\x00", 3));
    EXPECT_EQ(fleet::base64_decode(""), "");
}

// Every byte value survives the round trip.
TEST(Base64, RoundTripsEveryByte) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) {
        bytes += static_cast<char>(i);
    }
    for (size_t length = 0; length <= bytes.size(); length += 37) {
        const std::string part = bytes.substr(0, length);
        EXPECT_EQ(fleet::base64_decode(fleet::base64_unpadded(part)), part) << length;
    }
}

TEST(Base64, RefusesWhatIsNotBase64) {
    EXPECT_FALSE(fleet::base64_decode("Zm9v YmFy")); // whitespace is no part of a key blob
    EXPECT_FALSE(fleet::base64_decode("Zm9v\n"));
    EXPECT_FALSE(fleet::base64_decode("Zm-_"));  // the URL alphabet is another one
    EXPECT_FALSE(fleet::base64_decode("Zm9vY")); // five sextets end no byte
    EXPECT_TRUE(fleet::base64_decode("Zm9vYg")); // the control: six do
}

} // namespace
