// The nodes.conf / CLUSTER NODES text format of Redis 7.0: rendering and a strict parser (no I/O).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/detail/linkage.hpp"
#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/types.hpp"

namespace gossipcluster {

// Where a rendered node line goes. Redis 7.0 uses one generator for both, so the text is the same
// today; the distinction exists because later formats (7.2 aux fields) only go into the file.
enum class NodeLineTarget { kNodesConf, kClusterNodes };

struct NodeLineOptions {
    NodeLineTarget target = NodeLineTarget::kNodesConf;
};

// Upper bound on node lines in one file. Redis suggests clusters of up to about 1000 nodes; the
// bound keeps a hostile file from costing more than a few tens of MiB once parsed.
inline constexpr std::size_t kMaxConfNodes = 16384;

// Why a nodes.conf text was rejected. `line` is 1-based; problems of the file as a whole (no
// myself line) name the line after the last one, i.e. the end of the file.
struct NodesConfError {
    std::size_t line = 0;
    std::string reason;

    std::string describe() const { return fmt::format("line {}: {}", line, reason); }
};

// Exactly one of `state` and `error` is set.
struct ParseResult {
    std::optional<PersistedState> state;
    std::optional<NodesConfError> error;

    bool ok() const { return state.has_value(); }
};

namespace detail {

struct FlagName {
    std::uint16_t bit;
    std::string_view name;
};

// Print order of Redis 7.0 (redisNodeFlagsTable). MEET and MIGRATE_TO are never printed.
inline constexpr std::array<FlagName, 8> kPrintedFlags{{
    {node_flag::kMyself, "myself"},
    {node_flag::kMaster, "master"},
    {node_flag::kSlave, "slave"},
    {node_flag::kPfail, "fail?"},
    {node_flag::kFail, "fail"},
    {node_flag::kHandshake, "handshake"},
    {node_flag::kNoAddr, "noaddr"},
    {node_flag::kNoFailover, "nofailover"},
}};

inline constexpr std::size_t kMaxIpTextLen = kIpFieldLen - 1;
inline constexpr std::size_t kMaxShownChars = 64;

// Quotes a piece of untrusted input for an error message: bounded length, control bytes escaped.
inline std::string show(std::string_view text) {
    std::string out = "'";
    for (std::size_t i = 0; i < text.size() && i < kMaxShownChars; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            out += static_cast<char>(c);
        else
            fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    }
    if (text.size() > kMaxShownChars) out += "...";
    out += '\'';
    return out;
}

// Yields the fields of a line one by one, split on runs of blanks as the Redis loader does for
// unquoted text. Lazy so that a hostile line of millions of fields costs no memory.
class FieldReader {
  public:
    explicit FieldReader(std::string_view line) : rest_(line) {}

    std::optional<std::string_view> next() {
        std::size_t start = rest_.find_first_not_of(" \t");
        if (start == std::string_view::npos) {
            rest_ = {};
            return std::nullopt;
        }
        rest_.remove_prefix(start);
        std::size_t end = std::min(rest_.find_first_of(" \t"), rest_.size());
        std::string_view field = rest_.substr(0, end);
        rest_.remove_prefix(end);
        return field;
    }

  private:
    std::string_view rest_;
};

// Decimal digits only: no sign, no blanks, no overflow.
inline std::optional<std::uint64_t> parse_u64(std::string_view text) {
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    std::uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace detail

// Comma-separated flag names in Redis order; `noflags` when no printable flag is set.
GOSSIPCLUSTER_INLINE std::string render_flags(std::uint16_t flags);

// Inverse of render_flags. `noflags` contributes nothing; an unknown or empty name is an error.
GOSSIPCLUSTER_INLINE std::optional<std::uint16_t> parse_flags(std::string_view text);

// One node line without the trailing newline, as Redis 7.0 prints it:
// `<id> <ip>:<port>@<cport>[,<hostname>] <flags> <master|-> <ping> <pong> <epoch> <link> <slots>`.
// Fields are printed as given: the caller supplies e.g. `connected` for myself and the master's
// epoch for a replica. Open slots are printed on the myself line only.
GOSSIPCLUSTER_INLINE std::string render_node_line(const NodeRecord& n, const NodeLineOptions& = {});

// The whole file: one line per node except those still in handshake, then the vars line.
GOSSIPCLUSTER_INLINE std::string render_nodes_conf(const PersistedState& state);

// Parses a whole nodes.conf (source kNodesConf) or a CLUSTER NODES reply (kClusterNodes). Every
// line must end with '\n' (a last line without one means the text was cut short, and a cut inside
// the last field cannot be told from a complete line); '\r' before it is tolerated; blank lines
// are skipped.
//
// A file must also be whole: Redis and render_nodes_conf write the vars line (currentEpoch and
// lastVoteEpoch) last and always, so a file without it, or with a node line after it, lost its end
// and is refused. Loading it anyway would restart with lastVoteEpoch 0 and allow a second vote in
// an epoch already voted in. A file never lists a node in handshake, nor a slot both migrating and
// importing (neither is ever written), so whatever loads saves back to the same state.
GOSSIPCLUSTER_INLINE ParseResult
parse_nodes_conf(std::string_view text, NodeLineTarget source = NodeLineTarget::kNodesConf);

}  // namespace gossipcluster

// The definitions: compiled once into the library (src/nodes_conf.cpp), or included here in
// header-only mode.
#ifdef GOSSIPCLUSTER_HEADER_ONLY
#include "gossipcluster/impl/nodes_conf.ipp"
#endif
