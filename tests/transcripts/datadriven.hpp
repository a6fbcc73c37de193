// Data-driven test files: blocks of `command key=value...`, a `----` line, then the expected
// output.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace transcripts {

// One argument: `key=v1,v2`, or a bare `key` with no values.
struct Arg {
    std::string key;
    std::vector<std::string> values;
};

// One block. `before` is the file's text from the end of the previous block's output up to and
// including this block's `----` line (blank lines, `#` comments, the command line), kept as it
// was so that a rewrite changes nothing but the expected outputs.
struct Directive {
    std::size_t line = 0;  // of the command, counting from 1
    std::string command;
    std::vector<Arg> args;
    std::string before;
    std::string expected;  // its lines, each ending in '\n'; the blank line that ends it excluded

    const Arg* find(std::string_view key) const {
        for (const auto& a : args)
            if (a.key == key) return &a;
        return nullptr;
    }
};

struct DataFile {
    std::vector<Directive> directives;
    std::string trailer;  // text after the last block (comments, blank lines)
};

class ParseError : public std::runtime_error {
  public:
    ParseError(std::size_t line, const std::string& what)
        : std::runtime_error("line " + std::to_string(line) + ": " + what) {}
};

namespace detail {

inline std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

inline std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        std::size_t end = s.find(sep, start);
        parts.emplace_back(s.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

inline bool blank(std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

inline bool comment(std::string_view line) {
    const auto at = line.find_first_not_of(" \t");
    return at != std::string_view::npos && line[at] == '#';
}

inline void parse_command(std::string_view line, std::size_t line_no, Directive& d) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            ++i;
        if (i > start) words.emplace_back(line.substr(start, i - start));
    }
    d.command = words.at(0);
    for (std::size_t w = 1; w < words.size(); ++w) {
        const std::string& word = words[w];
        const auto eq = word.find('=');
        Arg a;
        a.key = word.substr(0, eq);
        if (a.key.empty()) throw ParseError(line_no, "argument without a name: " + word);
        if (eq != std::string::npos) {
            a.values = split(std::string_view(word).substr(eq + 1), ',');
            for (const auto& v : a.values)
                if (v.empty()) throw ParseError(line_no, "empty value in " + word);
        }
        d.args.push_back(std::move(a));
    }
}

}  // namespace detail

// Blocks are separated by blank lines; an expected output therefore holds no blank line. Lines
// starting with '#' outside an output are comments.
inline DataFile parse(std::string_view text) {
    DataFile file;
    const auto lines = detail::split_lines(text);
    std::string pending;  // text not yet assigned to a block
    std::size_t i = 0;
    while (i < lines.size()) {
        const std::string_view line = lines[i];
        if (detail::blank(line) || detail::comment(line)) {
            pending.append(line).push_back('\n');
            ++i;
            continue;
        }
        Directive d;
        d.line = i + 1;
        detail::parse_command(line, i + 1, d);
        pending.append(line).push_back('\n');
        ++i;
        if (i >= lines.size() || lines[i] != "----")
            throw ParseError(d.line, "command '" + d.command + "' is not followed by ----");
        pending.append("----\n");
        ++i;
        while (i < lines.size() && !detail::blank(lines[i])) {
            d.expected.append(lines[i]).push_back('\n');
            ++i;
        }
        d.before = std::move(pending);
        pending.clear();
        file.directives.push_back(std::move(d));
    }
    file.trailer = std::move(pending);
    // A file without a final newline gets one on rewrite; everything else round-trips.
    return file;
}

// The file again, with each block's expected output replaced by `outputs[i]` when given.
inline std::string render(const DataFile& file,
                          const std::vector<std::optional<std::string>>& outputs = {}) {
    std::string text;
    for (std::size_t i = 0; i < file.directives.size(); ++i) {
        const Directive& d = file.directives[i];
        text += d.before;
        text += i < outputs.size() && outputs[i] ? *outputs[i] : d.expected;
    }
    text += file.trailer;
    return text;
}

}  // namespace transcripts
