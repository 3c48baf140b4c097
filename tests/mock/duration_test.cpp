#include <catch2/catch.hpp>

#include "mock/duration.hpp"

using vd::Millis;
using vd::mock::parse_duration;

TEST_CASE("mock durations take ms, s, m and h units", "[mock][cli]") {
    CHECK(parse_duration("300ms") == Millis{300});
    CHECK(parse_duration("2s") == Millis{2000});
    CHECK(parse_duration("1.5s") == Millis{1500});
    CHECK(parse_duration("1m") == Millis{60000});
    CHECK(parse_duration("1h") == Millis{3600000});
    CHECK(parse_duration("0") == Millis{0});
}

TEST_CASE("mock durations without a known unit are rejected", "[mock][cli]") {
    CHECK_FALSE(parse_duration("300"));
    CHECK_FALSE(parse_duration("2 s"));
    CHECK_FALSE(parse_duration("-1s"));
    CHECK_FALSE(parse_duration("s"));
    CHECK_FALSE(parse_duration(""));
    CHECK_FALSE(parse_duration("5d"));
}
