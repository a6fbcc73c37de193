// Fuzz target: arbitrary bytes from a kvserver client never crash the request parser, never make it
// hold more than arrived, and give the same requests whether they come at once or in pieces.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "resp_parser.hpp"

namespace {

// Small limits, so that inputs of a few kilobytes reach every refusal.
constexpr kvserver::ParserLimits kLimits{.max_args = 64, .max_bulk = 512, .max_inline = 128};

struct Outcome {
    std::vector<std::vector<std::string>> commands;
    bool error = false;
};

// Parses `input` as a connection delivers it: `cuts` gives the size of each read (cycled; 0
// means all that is left). Consumed bytes are dropped after every call, as the server does.
Outcome parse_in_pieces(std::string_view input, const std::vector<std::size_t>& cuts) {
    kvserver::RequestParser parser(kLimits);
    Outcome out;
    std::string buffer;
    std::size_t fed = 0, read = 0;
    while (fed < input.size()) {
        std::size_t n = cuts.empty() ? 0 : cuts[read++ % cuts.size()];
        if (n == 0 || n > input.size() - fed) n = input.size() - fed;
        buffer.append(input.substr(fed, n));
        fed += n;
        std::size_t pos = 0;
        // Each command consumes at least one byte, so this ends within buffer.size() rounds.
        for (std::size_t round = 0; round <= buffer.size(); ++round) {
            const std::size_t before = pos;
            const auto result = parser.parse(buffer, pos);
            FUZZ_CHECK(pos >= before && pos <= buffer.size());
            if (result == kvserver::RequestParser::Result::kError) {
                FUZZ_CHECK(!parser.error().empty());
                out.error = true;
                return out;  // the server replies and closes: nothing after an error counts
            }
            if (result == kvserver::RequestParser::Result::kNeedMore) break;
            FUZZ_CHECK(pos > before);
            const auto& args = parser.args();
            FUZZ_CHECK(!args.empty() && args.size() <= kLimits.max_args);
            for (const auto& a : args)
                FUZZ_CHECK(a.size() <= std::max(kLimits.max_bulk, kLimits.max_inline));
            out.commands.push_back(args);
        }
        // What the parser keeps between reads is at most what arrived (it never reserves for a
        // count it was only told).
        FUZZ_CHECK(parser.parsed_bytes_pending() <=
                   fed + kLimits.max_args * (sizeof(std::string) + 2));
        buffer.erase(0, pos);
    }
    return out;
}

bool is_prefix(const Outcome& a, const Outcome& b) {
    return a.commands.size() <= b.commands.size() &&
           std::equal(a.commands.begin(), a.commands.end(), b.commands.begin());
}

// RESP2 for a list of arguments, as a client library writes it.
std::string encode(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args)
        out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    const Outcome whole = parse_in_pieces(input, {});
    // Read sizes taken from the input itself: byte-at-a-time and uneven pieces.
    std::vector<std::size_t> cuts{1};
    for (std::size_t i = 0; i < std::min<std::size_t>(size, 8); ++i)
        cuts.push_back(1 + data[i] % 37);
    for (const auto& pieces : {std::vector<std::size_t>{1}, cuts}) {
        const Outcome split = parse_in_pieces(input, pieces);
        if (!whole.error && !split.error) {
            FUZZ_CHECK(split.commands == whole.commands);
        } else {
            // A line too long to be a count is refused as soon as that much arrived without its
            // end, so a run may stop earlier than another, never disagree before that.
            FUZZ_CHECK(split.error ? is_prefix(split, whole) : is_prefix(whole, split));
        }
    }

    // Every command parsed, written again as a client writes it, parses back to itself.
    for (const auto& command : whole.commands) {
        bool small = command.size() <= kLimits.max_args;
        for (const auto& a : command)
            small = small && a.size() <= kLimits.max_bulk;
        if (!small) continue;
        const Outcome again = parse_in_pieces(encode(command), {3});
        FUZZ_CHECK(!again.error && again.commands.size() == 1 && again.commands[0] == command);
    }
    return 0;
}
