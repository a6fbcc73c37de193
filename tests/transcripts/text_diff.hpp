// A line diff of two texts ("  " same, "- " expected only, "+ " actual only), for test failures.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace transcripts {

// With `context`, unchanged lines farther than that from a change are left out ("  ...").
inline std::string line_diff(std::string_view expected, std::string_view actual,
                             std::size_t context = static_cast<std::size_t>(-1)) {
    auto lines = [](std::string_view text) {
        std::vector<std::string_view> out;
        std::size_t start = 0;
        while (start < text.size()) {
            std::size_t end = text.find('\n', start);
            if (end == std::string_view::npos) end = text.size();
            out.push_back(text.substr(start, end - start));
            start = end + 1;
        }
        return out;
    };
    const auto a = lines(expected);
    const auto b = lines(actual);
    // Longest common subsequence table, filled from the ends; outputs are a few hundred lines.
    std::vector<std::vector<std::size_t>> lcs(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = a.size(); i-- > 0;)
        for (std::size_t j = b.size(); j-- > 0;)
            lcs[i][j] =
                a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    std::vector<std::pair<const char*, std::string_view>> rows;
    std::size_t i = 0, j = 0;
    auto emit = [&](const char* mark, std::string_view line) { rows.emplace_back(mark, line); };
    while (i < a.size() || j < b.size()) {
        if (i < a.size() && j < b.size() && a[i] == b[j]) {
            emit("  ", a[i++]);
            ++j;
        } else if (i < a.size() && (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
            emit("- ", a[i++]);
        } else {
            emit("+ ", b[j++]);
        }
    }
    // Distance of each row from the nearest change, then the rows within `context` of one.
    std::vector<std::size_t> distance(rows.size(), static_cast<std::size_t>(-1));
    for (std::size_t pass = 0; pass < 2; ++pass) {
        std::size_t d = static_cast<std::size_t>(-1);
        for (std::size_t k = 0; k < rows.size(); ++k) {
            const std::size_t r = pass == 0 ? k : rows.size() - 1 - k;
            d = rows[r].first[0] != ' ' ? 0 : (d == static_cast<std::size_t>(-1) ? d : d + 1);
            distance[r] = std::min(distance[r], d);
        }
    }
    std::string out;
    bool skipping = false;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        if (context != static_cast<std::size_t>(-1) && distance[r] > context) {
            if (!skipping) out += "  ...\n";
            skipping = true;
            continue;
        }
        skipping = false;
        out += rows[r].first;
        out += rows[r].second;
        out += '\n';
    }
    return out;
}

}  // namespace transcripts
