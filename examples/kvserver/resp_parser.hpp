// RequestParser: resumable, bounded parsing of client requests (RESP2 arrays or inline lines).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "gossipcluster/commands/arguments.hpp"
#include "split_args.hpp"

namespace kvserver {

struct ParserLimits {
    std::size_t max_args = std::size_t{1} << 20;     // elements of one request
    std::size_t max_bulk = std::size_t{512} << 20;   // bytes of one argument
    std::size_t max_inline = std::size_t{64} << 10;  // an inline request or a count line
};

// Feed it the unconsumed input each time more arrives. It keeps only counts between calls, never
// offsets, so the caller may drop consumed bytes whenever it likes.
class RequestParser {
  public:
    enum class Result { kNeedMore, kCommand, kError };

    explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

    // Parses from `in` at `pos`, advancing `pos` over what it used. kCommand: args() holds one
    // request. kError: error() holds the text to send after "ERR Protocol error: "; the caller
    // replies and closes the connection, as redis-server does.
    Result parse(std::string_view in, std::size_t& pos) {
        while (true) {
            if (stage_ == Stage::kStart) {
                args_.clear();
                args_bytes_ = 0;
                if (pos >= in.size()) return Result::kNeedMore;
                if (in[pos] != '*') {
                    auto inline_result = parse_inline(in, pos);
                    if (!inline_result) continue;  // a blank line
                    return *inline_result;
                }
                auto count = read_count_line(in, pos, "too big mbulk count string");
                if (!count) return status_;
                // An empty or null array is no request: nothing to run, nothing to answer.
                if (*count <= 0) continue;
                if (static_cast<std::uint64_t>(*count) > limits_.max_args)
                    return fail("invalid multibulk length");
                remaining_ = static_cast<std::size_t>(*count);
                // Reserve for what has arrived, not for what a hostile count announces.
                args_.reserve(std::min<std::size_t>(remaining_, 1024));
                stage_ = Stage::kBulkHeader;
            }
            if (stage_ == Stage::kBulkHeader) {
                if (pos >= in.size()) return Result::kNeedMore;
                if (in[pos] != '$')
                    return fail(fmt::format("expected '$', got '{}'", printable(in[pos])));
                auto len = read_count_line(in, pos, "too big bulk count string");
                if (!len) return status_;
                if (*len < 0 || static_cast<std::uint64_t>(*len) > limits_.max_bulk)
                    return fail("invalid bulk length");
                bulk_len_ = static_cast<std::size_t>(*len);
                stage_ = Stage::kBulkData;
            }
            // Stage::kBulkData
            if (in.size() - pos < bulk_len_ + 2) return Result::kNeedMore;
            args_.emplace_back(in.substr(pos, bulk_len_));
            args_bytes_ += bulk_len_ + sizeof(std::string);
            // The two bytes after the data are skipped unchecked, as redis-server does.
            pos += bulk_len_ + 2;
            if (--remaining_ > 0) {
                stage_ = Stage::kBulkHeader;
                continue;
            }
            stage_ = Stage::kStart;
            return Result::kCommand;
        }
    }

    std::vector<std::string>& args() { return args_; }
    const std::string& error() const { return error_; }

    // Bytes the request being read still needs at least, beyond `available` unconsumed ones: a
    // hint to grow the input buffer once for a large argument.
    std::size_t bulk_bytes_pending() const {
        return stage_ == Stage::kBulkData ? bulk_len_ + 2 : 0;
    }

    // Memory held by the arguments of the request being read that are already parsed: they
    // no longer sit in the input, yet they wait for the rest of the request before anything
    // runs, so they count against the same limit as unparsed input.
    std::size_t parsed_bytes_pending() const { return stage_ == Stage::kStart ? 0 : args_bytes_; }

  private:
    enum class Stage { kStart, kBulkHeader, kBulkData };

    Result fail(std::string text) {
        error_ = std::move(text);
        stage_ = Stage::kStart;
        status_ = Result::kError;
        return Result::kError;
    }

    static std::string printable(char c) {
        if (c >= 0x20 && c < 0x7f) return std::string(1, c);
        return fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    }

    // `<marker><integer>\r\n` at pos. nullopt with status_ set when incomplete or malformed.
    std::optional<std::int64_t> read_count_line(std::string_view in, std::size_t& pos,
                                                std::string_view too_big) {
        const std::size_t end = in.find("\r\n", pos);
        if (end == std::string_view::npos) {
            if (in.size() - pos > limits_.max_inline)
                fail(std::string(too_big));
            else
                status_ = Result::kNeedMore;
            return std::nullopt;
        }
        auto value = gossipcluster::parse_int64_strict(in.substr(pos + 1, end - pos - 1));
        if (!value) {
            fail(in[pos] == '*' ? "invalid multibulk length" : "invalid bulk length");
            return std::nullopt;
        }
        pos = end + 2;
        return value;
    }

    // One line of words, as typed into telnet. nullopt for a blank line (consumed, skipped).
    std::optional<Result> parse_inline(std::string_view in, std::size_t& pos) {
        const std::size_t nl = in.find('\n', pos);
        if (nl == std::string_view::npos) {
            if (in.size() - pos > limits_.max_inline) return fail("too big inline request");
            return Result::kNeedMore;
        }
        if (nl - pos > limits_.max_inline) return fail("too big inline request");
        std::string_view line = in.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto words = split_args(line);
        if (!words) return fail("unbalanced quotes in request");
        if (words->empty()) return std::nullopt;
        args_ = std::move(*words);
        return Result::kCommand;
    }

    ParserLimits limits_;
    Stage stage_ = Stage::kStart;
    Result status_ = Result::kNeedMore;
    std::size_t remaining_ = 0;
    std::size_t bulk_len_ = 0;
    std::size_t args_bytes_ = 0;  // data and string objects of the arguments in args_
    std::vector<std::string> args_;
    std::string error_;
};

}  // namespace kvserver
