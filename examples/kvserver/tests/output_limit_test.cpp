// Unit tests of the kvserver's client-output-buffer-limit option.
#include <catch2/catch.hpp>

#include <string>
#include <variant>
#include <vector>

#include "../options.hpp"

namespace {

std::variant<kvserver::ServerOptions, kvserver::OptionsError> parse(std::vector<std::string> args) {
    return kvserver::parse_command_line(args);
}

}  // namespace

TEST_CASE("[kvserver-options] client-output-buffer-limit sets the pubsub class",
          "[kvserver][kvserver-options]") {
    const kvserver::OutputBufferLimit defaults;
    CHECK(defaults.hard == 32u << 20);
    CHECK(defaults.soft == 8u << 20);
    CHECK(defaults.soft_seconds == 60);

    auto one = parse({"--client-output-buffer-limit", "pubsub", "1mb", "256kb", "5"});
    REQUIRE(std::holds_alternative<kvserver::ServerOptions>(one));
    const auto& limit = std::get<kvserver::ServerOptions>(one).pubsub_output_limit;
    CHECK(limit.hard == 1u << 20);
    CHECK(limit.soft == 256u << 10);
    CHECK(limit.soft_seconds == 5);

    // redis.conf's form with every class on one line; only pubsub matters here.
    auto all = parse({"--client-output-buffer-limit", "normal", "0", "0", "0", "replica", "256mb",
                      "64mb", "60", "PUBSUB", "0", "1k", "0"});
    REQUIRE(std::holds_alternative<kvserver::ServerOptions>(all));
    const auto& l2 = std::get<kvserver::ServerOptions>(all).pubsub_output_limit;
    CHECK(l2.hard == 0);
    CHECK(l2.soft == 1000);
    CHECK(l2.soft_seconds == 0);

    auto others_only = parse({"--client-output-buffer-limit", "slave", "1mb", "1mb", "1"});
    REQUIRE(std::holds_alternative<kvserver::ServerOptions>(others_only));
    CHECK(std::get<kvserver::ServerOptions>(others_only).pubsub_output_limit.hard == defaults.hard);
}

TEST_CASE("[kvserver-options] a bad client-output-buffer-limit is refused",
          "[kvserver][kvserver-options]") {
    const std::vector<std::vector<std::string>> bad{
        {"--client-output-buffer-limit"},
        {"--client-output-buffer-limit", "pubsub", "1mb", "1mb"},
        {"--client-output-buffer-limit", "pubsub", "1mb", "1mb", "1", "normal"},
        {"--client-output-buffer-limit", "master", "1mb", "1mb", "1"},
        {"--client-output-buffer-limit", "pubsub", "lots", "1mb", "1"},
        {"--client-output-buffer-limit", "pubsub", "1mb", "-1", "1"},
        {"--client-output-buffer-limit", "pubsub", "1mb", "1mb", "-1"},
        {"--client-output-buffer-limit", "pubsub", "1mb", "1mb", "x"},
    };
    for (const auto& args : bad) {
        CAPTURE(args);
        auto r = parse(args);
        REQUIRE(std::holds_alternative<kvserver::OptionsError>(r));
        CHECK(std::get<kvserver::OptionsError>(r).message.find("client-output-buffer-limit") !=
              std::string::npos);
    }
}
