// Fuzz target: arbitrary bytes as nodes.conf never crash the loader, and whatever it accepts
// saves and loads back as the same state, byte for byte from the first save on.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"

using namespace gossipcluster;

namespace {

void check_error(const NodesConfError& e, std::string_view text) {
    // Lines are 1-based; a whole-file problem names the line after the last one.
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    FUZZ_CHECK(e.line >= 1 && e.line <= lines + 1);
    FUZZ_CHECK(!e.reason.empty());
    // Hostile bytes are quoted escaped: the reason is safe to log.
    FUZZ_CHECK(std::all_of(e.reason.begin(), e.reason.end(),
                           [](char c) { return c >= 0x20 && c < 0x7f; }));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    // As a file (what FileStorage::load parses).
    const ParseResult file = parse_nodes_conf(text);
    FUZZ_CHECK(file.ok() != file.error.has_value());
    if (file.error) check_error(*file.error, text);
    if (file.ok()) {
        FUZZ_CHECK(file.state->myself() != nullptr);
        // FileStorage::save writes render_nodes_conf; the next start parses it.
        const std::string saved = render_nodes_conf(*file.state);
        const ParseResult again = parse_nodes_conf(saved);
        FUZZ_CHECK(again.ok());
        FUZZ_CHECK(*again.state == *file.state);
        FUZZ_CHECK(render_nodes_conf(*again.state) == saved);
    }

    // As a CLUSTER NODES reply: the same line grammar without the vars line, so it accepts at
    // least what the file grammar accepts.
    const ParseResult reply = parse_nodes_conf(text, NodeLineTarget::kClusterNodes);
    FUZZ_CHECK(reply.ok() != reply.error.has_value());
    if (reply.error) check_error(*reply.error, text);
    if (file.ok()) FUZZ_CHECK(reply.ok() && *reply.state == *file.state);
    return 0;
}
